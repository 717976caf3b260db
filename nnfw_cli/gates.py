"""Expectations a run must meet, for CI: ``roc_auc >= 0.99``, ``train_seconds < 5``.

An expectation names a number of the run's metrics.json (or eval.json), an operator (``>=``,
``>``, ``<=``, ``<``) and a threshold. A nested number is named by its path:
``per_class.Barolo.recall``. ``parse`` reads one, ``check_names`` refuses a name the metrics do
not have (with "did you mean"), and ``judge`` says whether each was met, as the
``"expectations"`` list that metrics.json keeps.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import ConfigError

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}
_EXPECTATION = re.compile(r"\s*(?P<metric>[^\s<>=!]+)\s*(?P<op>[<>=!]+)\s*(?P<threshold>\S+)\s*")
_WRITTEN_AS = "write METRIC OPERATOR NUMBER, such as roc_auc>=0.99 (operators: >=, >, <=, <)"


@dataclass(frozen=True)
class Expectation:
    """``metric op threshold``; ``written`` is the threshold as the user wrote it."""

    metric: str
    op: str
    threshold: float
    written: str

    @property
    def check(self) -> str:
        """The expectation as one text: ``roc_auc >= 0.99``."""
        return f"{self.metric} {self.op} {self.written}"

    def met_by(self, value: Any) -> bool:
        """Whether ``value`` meets it; an undefined value (None, NaN) meets nothing."""
        return _is_number(value) and math.isfinite(value) and OPERATORS[self.op](value, self.threshold)


def parse(text: Any) -> Expectation:
    """One expectation from text such as ``"roc_auc>=0.99"``; a ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"an expectation is text, such as 'roc_auc>=0.99' (got {text!r})")
    match = _EXPECTATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an expectation: {_WRITTEN_AS}")
    metric, op, written = match["metric"], match["op"], match["threshold"]
    if op not in OPERATORS:
        hint = {"=>": ">=", "=<": "<=", "==": ">= or <=", "=": ">= or <="}.get(op)
        raise ValueError(f"{text!r}: {op!r} is not an operator of expectations"
                         + (f"; did you mean {hint}?" if hint else "") + " (operators: >=, >, <=, <)")
    try:
        threshold = float(written)
    except ValueError:
        raise ValueError(f"{text!r}: the threshold {written!r} is not a number; {_WRITTEN_AS}") from None
    if not math.isfinite(threshold):
        raise ValueError(f"{text!r}: the threshold must be a finite number (got {written})")
    return Expectation(metric, op, threshold, written)


def parse_all(texts: Iterable[str], where: str = "--expect") -> list[Expectation]:
    """Every expectation of ``texts``; a ConfigError lists each that cannot be read, after ``where``."""
    parsed, problems = [], []
    for text in texts:
        try:
            parsed.append(parse(text))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ConfigError(problems)
    return parsed


def merged(config_checks: Iterable[str], extra: Iterable[str]) -> list[str]:
    """The config's expectations, then the command line's (``--expect``), each once, as ``check`` texts."""
    checks = [expectation.check for expectation in parse_all(config_checks, "expect")]
    checks += [expectation.check for expectation in parse_all(extra)]
    return list(dict.fromkeys(checks))


# -- the metrics ------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def lookup(metrics: dict[str, Any], name: str) -> tuple[bool, Any]:
    """``(found, value)`` of the metric ``name``: a key of ``metrics``, or a dotted path into its
    nested mappings (``per_class.Barolo.recall``; a key that holds a dot is matched whole)."""
    if name in metrics:
        return True, metrics[name]
    for key, value in metrics.items():
        if isinstance(value, dict) and name.startswith(f"{key}."):
            found, inner = lookup(value, name[len(key) + 1:])
            if found:
                return True, inner
    return False, None


def numeric_names(metrics: dict[str, Any], prefix: str = "") -> list[str]:
    """The names of every number in ``metrics`` (an undefined one, null, too), nested ones by path;
    lists (the confusion matrix) and text (status) are left out."""
    names: list[str] = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            names += numeric_names(value, f"{prefix}{key}.")
        elif value is None or _is_number(value):
            names.append(f"{prefix}{key}")
    return names


def check_names(expectations: Iterable[Expectation], metrics: dict[str, Any],
                source: str = "metrics.json") -> None:
    """A ConfigError naming each expectation whose metric ``metrics`` does not have as a number,
    with the closest name ("did you mean") and the names there are."""
    from .config import did_you_mean

    names = numeric_names(metrics)
    problems = []
    for expectation in expectations:
        found, value = lookup(metrics, expectation.metric)
        if found and (value is None or _is_number(value)):
            continue
        if found:
            what = f"{expectation.metric!r} is {type(value).__name__} ({value!r}), not a number"
        else:
            what = f"no metric {expectation.metric!r} in {source}{did_you_mean(expectation.metric, names)}"
        top = [name for name in names if "." not in name]
        nested = " and nested ones such as per_class.<class>.recall" if len(top) < len(names) else ""
        problems.append(f"expect {expectation.check!r}: {what} (its numbers: {', '.join(top)}{nested})")
    if problems:
        raise ConfigError(problems)


def judge(expectations: Iterable[Expectation], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"check", "value", "passed"}]``, one for each expectation, in order; a metric that is
    missing (a diverged run has no ROC AUC) or undefined has the value None and is not met."""
    results = []
    for expectation in expectations:
        _, value = lookup(metrics, expectation.metric)
        value = value if _is_number(value) and math.isfinite(value) else None
        results.append({"check": expectation.check, "value": value, "passed": expectation.met_by(value)})
    return results


def unmet(results: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The results of ``judge`` that were not met."""
    return [result for result in results or () if not result.get("passed")]


def describe(result: dict[str, Any]) -> str:
    """One result for people: ``roc_auc >= 0.99: 0.5123`` or ``roc_auc >= 0.99: no value (undefined)``."""
    value = result.get("value")
    shown = "no value (undefined, or the run has none)" if value is None else f"{value:.6g}"
    return f"{result['check']}: {shown}"
