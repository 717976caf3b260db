"""Reports CI systems read: JUnit XML and GitHub's step summary.

The JUnit file is what GitLab (``artifacts:reports:junit``), Jenkins (``junit``) and GitHub's test
reporter actions show as a test view. It is valid against both schemas those readers follow:
Jenkins' (junit-10.xsd) and the stricter one of Apache Ant's JUnit task, which asks every suite
for ``properties``, ``system-out`` and ``system-err``, a ``timestamp`` without a time zone, a
``hostname``, an ``id`` and a ``package``, and every test case for a ``classname`` and a
``time``. It is written with ``xml.etree.ElementTree``, atomically.

When the environment variable ``GITHUB_STEP_SUMMARY`` names a file (GitHub Actions sets it for
each step), a markdown summary is appended to it: the page of the workflow run shows it.
"""

from __future__ import annotations

import math
import os
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__, runs
from .errors import WriteError

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
# XML 1.0 cannot hold these characters at all, escaped or not; a message quoting a cell of a
# binary file could bring one in.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Case:
    """One test case: passed, failed (a check that did not hold) or errored (could not run)."""

    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # the message of a check that did not hold
    error: str | None = None    # the message of something that could not run: bad input, a crash
    kind: str = ""              # the failure's or error's type: ExpectationUnmet, SmokeFailure, ConfigError, ...
    details: str = ""           # the failure's text: values, the stage, a traceback

    @property
    def passed(self) -> bool:
        return self.failure is None and self.error is None


def _xml_text(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def junit_xml(suite: str, cases: list[Case], command: str = "", output: str = "",
              timestamp: datetime | None = None) -> bytes:
    """The JUnit XML document of one suite of ``cases``; ``command`` is kept as a property,
    ``output`` as the suite's ``system-out``."""
    stamp = (timestamp or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites")
    attributes = {
        "name": suite, "tests": len(cases), "failures": sum(c.failure is not None for c in cases),
        "errors": sum(c.failure is None and c.error is not None for c in cases), "skipped": 0,
        "time": _seconds(sum(c.seconds for c in cases)), "timestamp": stamp,
        "hostname": socket.gethostname() or "localhost", "id": 0, "package": "nnfw",
    }
    element = ET.SubElement(root, "testsuite", {key: _xml_text(value) for key, value in attributes.items()})
    properties = ET.SubElement(element, "properties")
    for name, value in (("nnfw.version", __version__), ("command", command)):
        ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for case in cases:
        _add_case(element, case)
    ET.SubElement(element, "system-out").text = _xml_text(output)
    ET.SubElement(element, "system-err").text = ""
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _add_case(suite: ET.Element, case: Case) -> None:
    element = ET.SubElement(suite, "testcase", {"name": _xml_text(case.name), "classname": _xml_text(case.classname),
                                                "time": _seconds(case.seconds)})
    if case.passed:
        return
    tag, message = ("failure", case.failure) if case.failure is not None else ("error", case.error)
    outcome = ET.SubElement(element, tag, {"message": _xml_text(message),
                                           "type": _xml_text(case.kind or tag.capitalize())})
    outcome.text = _xml_text(case.details or message)


def _seconds(seconds: float) -> str:
    return f"{seconds:.3f}" if math.isfinite(seconds) and seconds >= 0 else "0.000"


def write_junit(path: str | os.PathLike, suite: str, cases: list[Case], command: str = "",
                output: str = "") -> Path:
    """Write ``junit_xml(...)`` to ``path``, atomically (a WriteError if it cannot be written)."""
    path = Path(path)
    data = junit_xml(suite, cases, command, output)
    with runs.atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def check_writable(path: str | os.PathLike | None, option: str = "--junit-xml") -> None:
    """Make the folder of ``path`` (``reports/smoke.xml``: ``reports/``), as a test runner does;
    a WriteError now, before any work, if it cannot be, or if ``path`` is a folder itself."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{option} {path}: is a directory; name a file to write", str(path))
    if os.path.lexists(path):  # replaced only if it is a report written before, as at each run of a CI job
        if not path.is_file():
            raise WriteError(f"{option} {path}: is not a regular file; name a file to write", str(path))
        with open(path, "rb") as handle:
            head = handle.read(4096)
        if not (head.lstrip().startswith(b"<?xml") and b"<testsuite" in head):
            raise WriteError(f"{option} {path}: exists and is not a JUnit report, and would be replaced; name "
                             "another file (or remove this one)", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{option} {path}: its folder cannot be made: {exc.strerror or exc}", str(path)) from None


# -- the cases of a run -----------------------------------------------------------------------


def run_cases(classname: str, name: str, metrics: dict[str, Any] | None, seconds: float = 0.0,
              failure: str | None = None, kind: str = "") -> list[Case]:
    """The case of a run (failed with ``failure``: it diverged), then one case per expectation
    in ``metrics`` (those of metrics.json or eval.json), failed where it was not met."""
    cases = [Case(name, classname, seconds, failure=failure, kind=kind)]
    for result in (metrics or {}).get("expectations") or ():
        from .gates import describe

        unmet = None if result.get("passed") else f"expectation not met: {describe(result)}"
        cases.append(Case(f"expect {result['check']}", classname, 0.0, failure=unmet, kind="ExpectationUnmet"))
    return cases


# -- GitHub's step summary --------------------------------------------------------------------


def append_step_summary(markdown: str, environ: Any = None) -> Path | None:
    """Append ``markdown`` to the file ``GITHUB_STEP_SUMMARY`` names, if it names one; never
    overwrites what is there (earlier steps' and commands' summaries). A WriteError if it cannot."""
    path = (os.environ if environ is None else environ).get(STEP_SUMMARY)
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")  # a blank line: the next summary starts a block of its own
    except OSError as exc:
        raise WriteError(f"{STEP_SUMMARY}={path}: cannot be appended to: {exc.strerror or exc}", path) from None
    return Path(path)


def _cell(value: Any) -> str:
    """A value for a markdown table cell: numbers to 6 significant digits, undefined as n/a, no bars or new lines."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def run_markdown(title: str, run_dir: str | os.PathLike, metrics: dict[str, Any], failure: str | None = None) -> str:
    """A run's summary: its folder, a table of its metrics (numbers and status) and one of its expectations."""
    results = metrics.get("expectations") or []
    unmet = [result for result in results if not result.get("passed")]
    verdict = "failed" if failure else f"{len(unmet)} of {len(results)} expectations not met" if unmet else "passed"
    mark = "❌" if failure or unmet else "✅"
    lines = [f"### {mark} {_cell(title)}: {verdict}", "", f"Run folder: `{run_dir}`", ""]
    if failure:
        lines += [f"> {_cell(failure)}", ""]
    shown = {key: value for key, value in metrics.items() if not isinstance(value, (dict, list))}
    if shown:
        lines += ["| metric | value |", "| --- | ---: |", *(f"| {_cell(k)} | {_cell(v)} |" for k, v in shown.items()), ""]
    lines += expectations_markdown(results)
    return "\n".join(lines) + "\n"


def expectations_markdown(results: Iterable[dict[str, Any]]) -> list[str]:
    """The lines of a table of expectations (none for no expectations)."""
    rows = [f"| `{_cell(r['check'])}` | {_cell(r.get('value'))} | {'✅ met' if r.get('passed') else '❌ not met'} |"
            for r in results]
    return ["| expectation | value | result |", "| --- | ---: | --- |", *rows, ""] if rows else []


def cases_markdown(title: str, cases: list[Case], notes: Iterable[str] = ()) -> str:
    """A summary of test cases (smoke runs): a line of totals, then one row per case."""
    failed = [case for case in cases if not case.passed]
    mark = "❌" if failed else "✅"
    lines = [f"### {mark} {_cell(title)}: {len(cases) - len(failed)} passed, {len(failed)} failed", "",
             "| config | result | seconds | details |", "| --- | --- | ---: | --- |"]
    for case in cases:
        result = "✅ passed" if case.passed else "❌ failed"
        reason = _cell(case.failure or case.error or "")
        lines.append(f"| `{_cell(case.name)}` | {result} | {case.seconds:.2f} | {reason} |")
    return "\n".join(lines + [""] + [f"{_cell(note)}" for note in notes]) + "\n"


# -- the reports of one command ---------------------------------------------------------------


class Reporter:
    """Writes what one command did for CI: the JUnit file (when ``junit_path`` is given) and a
    step summary (when ``GITHUB_STEP_SUMMARY`` names a file). ``warn`` is told of a summary that
    cannot be written: it is not worth failing a run for."""

    def __init__(self, command: str, label: str, junit_path: str | os.PathLike | None,
                 warn: Callable[[str], None] = lambda message: None, environ: Any = None) -> None:
        self.command, self.label, self.junit_path, self.warn = command, label, junit_path, warn
        self.environ = os.environ if environ is None else environ
        self.name = f"{command} {label}"
        self.classname = f"nnfw.{command}.{Path(label).stem or 'run'}".replace(" ", "_")

    def run(self, run_dir: str | os.PathLike, metrics: dict[str, Any] | None, seconds: float,
            failure: str | None = None) -> None:
        """A run that finished (its ``metrics``), or that failed with ``failure`` (it diverged:
        its metrics.json is read for its expectations)."""
        if metrics is None:
            metrics = saved_metrics(run_dir)
        cases = run_cases(self.classname, self.name, metrics, seconds, failure, "TrainingDiverged" if failure else "")
        self._write(cases, lambda: run_markdown(f"nnfw {self.name}", run_dir, metrics, failure))

    def error(self, message: str, kind: str, seconds: float) -> None:
        """A command that could not run: bad input."""
        case = Case(self.name, self.classname, seconds, error=message, kind=kind)
        self._write([case], lambda: f"### ❌ nnfw {_cell(self.name)}: not run\n\n> {_cell(message.splitlines()[0])}\n")

    def smoke(self, results: list[Any], summary: str) -> None:
        """The smoke runs of ``nnfw smoke``, one case per config."""
        cases = [smoke_case(result) for result in results]
        self._write(cases, lambda: cases_markdown("nnfw smoke", cases, [summary]), summary)

    def _write(self, cases: list[Case], markdown: Callable[[], str], output: str = "") -> None:
        if self.junit_path is not None:
            write_junit(self.junit_path, f"nnfw {self.command}", cases, f"nnfw {self.name}", output)
        if self.environ.get(STEP_SUMMARY):
            try:
                append_step_summary(markdown(), self.environ)
            except WriteError as exc:
                self.warn(str(exc))


def smoke_case(result: Any) -> Case:
    """A smoke result (``smoke.SmokeResult``) as a case: failed (a check that did not hold), or
    errored (a config that is not valid, an error nnfw did not expect: it could not be checked)."""
    case = Case(result.config, "nnfw.smoke", result.seconds, details=result.details)
    if result.passed:
        return case
    if result.bad_input or result.details or result.stage is None:
        case.error, case.kind = result.reason, "InvalidConfig" if result.bad_input else "Error"
    else:
        case.failure, case.kind = result.reason, "SmokeFailure"
    return case


def saved_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A run's metrics.json, or nothing if it cannot be read."""
    from .errors import NnfwError

    try:
        metrics = runs.read_json(Path(run_dir) / runs.METRICS)
    except NnfwError:
        return {}
    return metrics if isinstance(metrics, dict) else {}
