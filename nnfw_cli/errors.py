"""The exceptions nnfw raises; the command line turns each into a message and an exit code."""

from __future__ import annotations


class NnfwError(Exception):
    """Base class: the message is meant for the user as it is."""


class ConfigError(NnfwError):
    """A config file or override that cannot be read or does not validate (one or many problems)."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DataError(NnfwError):
    """Input data that cannot be used (a CSV with a bad cell, a wrong number of columns, ...)."""


class ModelFileError(NnfwError):
    """A model file that is missing, corrupt, or does not match its architecture."""


class RunError(NnfwError):
    """A run folder that is missing, incomplete, or cannot be created."""


class RunInUse(RunError):
    """A run folder another process holds: its lock file names that process."""

    def __init__(self, message: str, run_dir: str | None = None, pid: int | None = None,
                 host: str | None = None) -> None:
        self.run_dir, self.pid, self.host = run_dir, pid, host
        super().__init__(message)

    def __reduce__(self) -> tuple:  # whole again after a process pool sends it back
        return type(self), (str(self), self.run_dir, self.pid, self.host)


class WriteError(RunError, OSError):
    """A file that cannot be written (a read-only folder, a full disk); what was there is kept.

    Also an OSError, so code that treats a failed write as one keeps working.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)

    def __reduce__(self) -> tuple:
        return type(self), (str(self), self.path)


class TrainingDiverged(NnfwError):
    """The loss stopped being a finite number; the run folder keeps what was done."""

    def __init__(self, message: str, run_dir: str) -> None:
        self.run_dir = run_dir
        super().__init__(message)


class TrainingInterrupted(NnfwError):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, message: str, run_dir: str, exit_code: int) -> None:
        self.run_dir, self.exit_code = run_dir, exit_code
        super().__init__(message)
