"""Reports CI systems read: JUnit XML (``--junit-xml``) and GitHub's step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nnfw_cli import reports
from nnfw_cli.cli import main

STRICT_SUITE_ATTRIBUTES = {"name", "tests", "failures", "errors", "time", "timestamp", "hostname", "id", "package"}


def _suite(path: Path) -> ET.Element:
    """The one test suite of a JUnit file, checked against what the strictest reader (Apache Ant's
    schema) requires beyond Jenkins': the suite's attributes, ``properties`` first, ``system-out``
    and ``system-err`` last, a name, class name and time on every case, at most one outcome each."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and not root.attrib and len(root) == 1
    suite = root[0]
    assert suite.tag == "testsuite" and STRICT_SUITE_ATTRIBUTES <= set(suite.attrib)
    assert [child.tag for child in suite][0] == "properties"
    assert [child.tag for child in suite][-2:] == ["system-out", "system-err"]
    assert suite.attrib["timestamp"][10] == "T" and len(suite.attrib["timestamp"]) == 19  # no time zone
    cases = suite.findall("testcase")
    assert int(suite.attrib["tests"]) == len(cases)
    assert int(suite.attrib["failures"]) == sum(case.find("failure") is not None for case in cases)
    assert int(suite.attrib["errors"]) == sum(case.find("error") is not None for case in cases)
    for case in cases:
        assert {"name", "classname", "time"} <= set(case.attrib) and float(case.attrib["time"]) >= 0
        assert len(case) <= 1 and all(outcome.attrib.get("type") for outcome in case)
    return suite


def _outcomes(suite: ET.Element) -> dict[str, str | None]:
    """Each case's name and its failure's (or error's) message, None for a case that passed."""
    return {case.attrib["name"]: next((o.attrib["message"] for o in case), None) for case in suite.findall("testcase")}


@pytest.mark.slow
def test_train_junit_has_a_case_for_the_run_and_each_expectation(runner, small_config, tmp_path):
    report = tmp_path / "report.xml"
    result = runner.invoke(main, ["train", str(small_config), "--quiet", "--junit-xml", str(report),
                                  "--expect", "roc_auc>=0", "--expect", "accuracy>1"])
    assert result.exit_code == 3
    suite = _suite(report)
    outcomes = _outcomes(suite)
    assert list(outcomes) == [f"train {small_config}", "expect roc_auc >= 0", "expect accuracy > 1"]
    assert outcomes[f"train {small_config}"] is None and outcomes["expect roc_auc >= 0"] is None
    assert outcomes["expect accuracy > 1"].startswith("expectation not met: accuracy > 1: ")
    assert suite.attrib["failures"] == "1" and suite.attrib["errors"] == "0"
    assert {case.attrib["classname"] for case in suite.findall("testcase")} == {"nnfw.train.small"}


@pytest.mark.slow
def test_junit_is_read_by_an_independent_parser(runner, small_config, tmp_path):
    junitparser = pytest.importorskip("junitparser")
    report = tmp_path / "report.xml"
    runner.invoke(main, ["train", str(small_config), "--quiet", "--junit-xml", str(report), "--expect", "loss<0"])
    suites = list(junitparser.JUnitXml.fromfile(str(report)))
    assert len(suites) == 1 and suites[0].tests == 2 and suites[0].failures == 1
    cases = {case.name: case for case in suites[0]}
    assert cases[f"train {small_config}"].is_passed
    [failure] = cases["expect loss < 0"].result
    assert isinstance(failure, junitparser.Failure) and failure.message.startswith("expectation not met: loss < 0")


def test_a_bad_config_is_an_errored_case(runner, make_config, tmp_path):
    report = tmp_path / "report.xml"
    config = make_config({"training.epochs": -1})
    result = runner.invoke(main, ["train", str(config), "--junit-xml", str(report)])
    assert result.exit_code == 2
    suite = _suite(report)
    [case] = suite.findall("testcase")
    assert case.find("error").attrib["type"] == "ConfigError"
    assert "training.epochs: must be >= 1" in case.find("error").attrib["message"]


@pytest.mark.slow
def test_a_diverged_run_is_a_failed_case(runner, make_config, tmp_path):
    report = tmp_path / "report.xml"
    config = make_config({"training.learning_rate": 1e6, "training.optimizer": "sgd", "loss": "mean_squared_error",
                          "training.batch_size": None, "training.epochs": 60,
                          "model.layers": [{"type": "linear", "units": 8}, "relu", {"type": "linear", "units": 1}]})
    result = runner.invoke(main, ["train", str(config), "--quiet", "--junit-xml", str(report), "--expect", "roc_auc>0"])
    assert result.exit_code == 1
    outcomes = _outcomes(_suite(report))
    assert "training diverged at epoch" in outcomes[f"train {config}"]
    assert outcomes["expect roc_auc > 0"].startswith("expectation not met: roc_auc > 0: no value")


@pytest.mark.slow
def test_eval_writes_junit(runner, run_dir, tmp_path):
    report = tmp_path / "eval.xml"
    result = runner.invoke(main, ["eval", str(run_dir), "--junit-xml", str(report), "--expect", "accuracy>=0"])
    assert result.exit_code == 0, result.stderr
    assert _outcomes(_suite(report)) == {f"eval {run_dir}": None, "expect accuracy >= 0": None}


@pytest.mark.slow
def test_junit_folder_is_made_and_one_that_cannot_be_is_refused_before_training(runner, small_config, tmp_path):
    result = runner.invoke(main, ["train", str(small_config), "--quiet", "--junit-xml",
                                  str(tmp_path / "reports" / "ci" / "r.xml")])
    assert result.exit_code == 0, result.stderr
    _suite(tmp_path / "reports" / "ci" / "r.xml")
    (tmp_path / "file").write_text("")
    result = runner.invoke(main, ["train", str(small_config), "--junit-xml", str(tmp_path / "file" / "r.xml")])
    assert result.exit_code == 2 and "its folder cannot be made" in result.stderr
    result = runner.invoke(main, ["train", str(small_config), "--junit-xml", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.stderr
    assert len(list((tmp_path / "outputs").iterdir())) == 2  # the first run and its latest link, no other


@pytest.mark.parametrize("command", ["train", "smoke"])
def test_junit_replaces_a_report_and_no_other_file(runner, small_config, tmp_path, command):
    """A CI job writes its report again at every run; any other file, the config itself say, is kept."""
    report = tmp_path / "r.xml"
    for _ in range(2):
        result = runner.invoke(main, [command, str(small_config), "--junit-xml", str(report)])
        assert result.exit_code == 0, result.stderr
        _suite(report)
    before = small_config.read_bytes()
    for other in (small_config, tmp_path / "notes.txt"):
        other.write_bytes(before if other == small_config else b"my notes\n")
        kept = other.read_bytes()
        result = runner.invoke(main, [command, str(small_config), "--junit-xml", str(other)])
        assert result.exit_code == 2 and result.stderr == (f"Error: --junit-xml {other}: exists and is not a JUnit "
                                                           "report, and would be replaced; name another file (or "
                                                           "remove this one)\n"), result.stderr
        assert other.read_bytes() == kept


def test_junit_text_holds_no_character_xml_cannot(tmp_path):
    case = reports.Case("bad \x00 name", "nnfw.x", 1.0, failure="cell '\x1b[31m' \ud800", kind="SmokeFailure")
    path = reports.write_junit(tmp_path / "r.xml", "nnfw smoke", [case], "nnfw smoke x\x07")
    suite = _suite(path)
    assert _outcomes(suite) == {"bad \ufffd name": "cell '\ufffd[31m' \ufffd"}
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left


# -- GitHub's step summary --------------------------------------------------------------------


@pytest.mark.slow
def test_step_summary_is_appended_not_overwritten(runner, small_config, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("# an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for check in ("roc_auc>=0", "accuracy>1"):
        runner.invoke(main, ["train", str(small_config), "--quiet", "--expect", check])
    text = summary.read_text()
    assert text.startswith("# an earlier step's summary\n")
    assert text.count(f"nnfw train {small_config}") == 2
    assert "✅" in text and "| `roc_auc >= 0` |" in text and "✅ met" in text
    assert "1 of 1 expectations not met" in text and "| `accuracy > 1` |" in text and "❌ not met" in text
    assert "| roc_auc |" in text and "| status | completed |" in text


@pytest.mark.slow
def test_step_summary_that_cannot_be_written_is_a_warning(runner, small_config, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing" / "summary.md"))
    result = runner.invoke(main, ["train", str(small_config), "--quiet"])
    assert result.exit_code == 0 and "warning: GITHUB_STEP_SUMMARY=" in result.stderr


def test_no_step_summary_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert reports.append_step_summary("x") is None
    assert reports.append_step_summary("x", {"GITHUB_STEP_SUMMARY": ""}) is None
