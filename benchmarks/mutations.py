"""Break the fast training step on purpose, one way at a time, and check that tests/nn notices.

    python benchmarks/mutations.py        # from the repository's root; restores the file after each

Each line printed says CAUGHT (a test failed) or MISSED, with the mutation and pytest's last line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "nnfw_cli" / "nn" / "_step.py"
MUTATIONS = [  # (text in _step.py, what it becomes)
    ("x_ones[:, -1] = 1.0", "x_ones[:, -1] = 0.0"),
    ("block[width] = 1.0", "block[width] = 0.5"),
    ("np.greater(self.y, 0, out=active)", "np.greater_equal(self.y, 0, out=active)"),
    ("rows = order[start : start + batch_size]", "rows = order[start : start + batch_size - 1]"),
    ("            y += self.bias\n        return y, y_ones", "        return y, y_ones"),
    ("_product(self.weight, grad_y.T, out=grad_x.T)", "_product(self.weight, -grad_y.T, out=grad_x.T)"),
    ("np.matmul(grad_y.T, _ones(len(grad_y), grad_y.dtype), out=self.bias_grad)", "pass"),
    ("total += self.run(*self._gather(rows)) * len(rows)", "total += self.run(*self._gather(rows)) * batch_size"),
    ('np.take(self.target, rows, axis=0, out=y, mode="clip")',
     'np.take(self.target, rows[::-1], axis=0, out=y, mode="clip")'),
    ("kernel.overwrites_input = index > 0 and kernels[index - 1].output_is_scratch",
     "kernel.overwrites_input = True"),
]


def main() -> int:
    original = PATH.read_text()
    missed = 0
    try:
        for old, new in MUTATIONS:
            if original.count(old) != 1:
                sys.exit(f"not found once in {PATH.name}: {old!r}")
            PATH.write_text(original.replace(old, new))
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/nn"],
                                  capture_output=True, text=True, cwd=PATH.parent.parent.parent)
            missed += done.returncode == 0
            last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            print("CAUGHT" if done.returncode else "MISSED", "|", new.strip()[:70], "|", last[:70])
    finally:
        PATH.write_text(original)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
