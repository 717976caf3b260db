"""nnfw_cli.data.load_split and nnfw_cli.features: every source of data, and transforms fitted on training rows."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfw_cli.config import DataConfig, validate
from nnfw_cli.data import MAX_DATA_BYTES, load_split, make_dataset, read_table, split
from nnfw_cli.errors import DataError
from nnfw_cli.features import PLAYGROUND, Transform, apply, fit, labels

PENGUINS = """\
species,bill_mm,island,mass_g
Adelie,39.1,Torgersen,3750
Gentoo,46.5,Biscoe,4500
Adelie,38.6,Dream,3800
Chinstrap,49.0,Dream,3700
Gentoo,48.2,Biscoe,5000
Adelie,40.3,Torgersen,3450
Chinstrap,50.5,Dream,3900
Gentoo,47.3,Biscoe,5200
Adelie,37.8,Dream,3400
Chinstrap,51.3,Dream,3650
Gentoo,45.1,Biscoe,4750
Adelie,39.5,Biscoe,3600
"""


def _data(raw: dict) -> DataConfig:
    """The data section alone (the model's head is checked in tests/test_config_data.py)."""
    return DataConfig.model_validate(raw)


def _csv(tmp_path: Path, text: str, name: str = "table.csv", **settings):
    path = tmp_path / name
    path.write_text(text)
    return _data({"dataset": "csv", "path": str(path), "target": "species", **settings})


def _error(tmp_path: Path, text: str, **settings) -> str:
    with pytest.raises(DataError) as caught:
        load_split(_csv(tmp_path, text, **settings), 0)
    return str(caught.value)


# -- CSV files --------------------------------------------------------------------------------


def test_a_csv_with_a_string_target_and_a_categorical_column(tmp_path):
    split_ = load_split(_csv(tmp_path, PENGUINS, test_fraction=0.25), 0)
    assert split_.class_names == ["Adelie", "Chinstrap", "Gentoo"]
    assert split_.n_classes == 3 and split_.X_train.dtype == np.float64
    assert split_.feature_names[0] == "bill_mm" and split_.feature_names[-1] == "mass_g"
    assert {name for name in split_.feature_names if name.startswith("island=")} <= {
        "island=Biscoe", "island=Dream", "island=Torgersen"}
    assert split_.X_train.shape[1] == split_.n_features == len(split_.feature_names)
    assert len(split_.y_train) + len(split_.y_test) == 12 and set(split_.y_test) == {0, 1, 2}


def test_relative_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_text(PENGUINS)
    (tmp_path / "c.yaml").write_text("data: {dataset: csv, path: data/p.csv, target: species}\n"
                                     "model: {layers: [{type: linear, units: 3}, softmax]}\nloss: cross_entropy\n")
    monkeypatch.chdir(Path(__file__).parent)
    from nnfw_cli.config import dump_yaml, load_config

    config = load_config(tmp_path / "c.yaml")
    assert config.data.path == str(tmp_path / "data" / "p.csv")
    assert f"path: {tmp_path / 'data' / 'p.csv'}" in dump_yaml(config)  # the resolved config records it absolute
    assert load_split(config.data, 0).n_classes == 3


def test_the_sha256_is_the_files(tmp_path):
    split_ = load_split(_csv(tmp_path, PENGUINS), 0)
    assert split_.sha256 == hashlib.sha256(PENGUINS.encode()).hexdigest()
    assert load_split(_data({"dataset": "circles"}), 0).sha256 is None


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_delimiter_is_detected(tmp_path, delimiter):
    split_ = load_split(_csv(tmp_path, PENGUINS.replace(",", delimiter)), 0)
    assert split_.class_names == ["Adelie", "Chinstrap", "Gentoo"]


def test_features_choose_columns_and_integer_targets_sort_as_numbers(tmp_path):
    text = "species,a,b\n" + "".join(f"{k % 3 * 5},{k},{k * 2}\n" for k in range(12))
    split_ = load_split(_csv(tmp_path, text, features=["b"]), 0)
    assert split_.class_names == ["0", "5", "10"] and split_.feature_names == ["b"]


@pytest.mark.parametrize(("text", "settings", "needles"), [
    pytest.param(None, {}, ["no such file"], id="missing-file"),
    pytest.param("", {}, ["the file is empty"], id="empty"),
    pytest.param("species,bill\n", {}, ["only a header row"], id="header-only"),
    pytest.param("\n" + PENGUINS, {}, ["line 1 is blank; the header row naming the columns must be the first line"],
                 id="blank-first-line"),
    pytest.param("\n \n\n", {}, ["the file is empty"], id="blank-lines-only"),
    pytest.param(PENGUINS.replace("46.5", "1e400"), {},
                 ["line 3, column 'bill_mm': 'inf' (so written, or a number beyond ±1.8e308, as 1e400) is not a finite "
                  "number"], id="a-number-too-large"),
    pytest.param(PENGUINS.replace(",", ";").replace(".", ","), {},
                 ["column 'bill_mm': its cells are numbers written with a decimal comma ('39,1'), which would be read "
                  "as categories; write them with a point"], id="decimal-commas"),
    pytest.param(PENGUINS.replace("species", "specie"), {}, ["line 1", "no target column 'species'",
                                                              "did you mean 'specie'"], id="no-target"),
    pytest.param(PENGUINS, {"features": ["bil_mm"]}, ["no feature column 'bil_mm'", "did you mean 'bill_mm'"],
                 id="no-feature"),
    pytest.param(PENGUINS.replace("island", "i" * 100_000), {"features": ["bil_mm"]},
                 ["(the header has: species, bill_mm, 'iiiiiiii", "... (100,000 characters), mass_g)"],
                 id="a-huge-name-is-cut"),
    pytest.param(PENGUINS.replace("Gentoo", "Adelie").replace("Chinstrap", "Adelie"), {},
                 ["holds one class ('Adelie')", "at least two"], id="one-class"),
    pytest.param(PENGUINS.replace("46.5", "about " + "x" * 300), {},
                 ["line 3", "column 'bill_mm'", "is not a finite number", "(306 characters)"], id="not-a-number"),
    pytest.param(PENGUINS.replace("46.5,Biscoe", "46.5,Biscoe,extra"), {}, ["line 3 has 5 cells", "4 columns"],
                 id="ragged-long"),
    pytest.param(PENGUINS.replace("46.5,Biscoe,4500", "46.5,Biscoe"), {}, ["line 3 has 3 cells"], id="ragged-short"),
    pytest.param(PENGUINS.replace("39.1,Torgersen", "39.1,Torgersen,extra"), {}, ["line 2 has 5 cells", "4 columns"],
                 id="ragged-first-row"),  # the parser only warns of this one
    pytest.param(PENGUINS.replace("Gentoo,46.5", 'Gentoo,"46.5'), {},
                 ["line 3 has 2 cells, but the header has 4 columns", "(this row runs from line 3 to line 13 inside "
                  "quotes: is a quote left open on line 3?)"], id="a-quote-left-open"),
    pytest.param("species,x\na,1\nb,2\nc,3\na,4\nb,5\n", {}, ["5 rows for 3 classes", "at least 6"],
                 id="too-few-rows"),
    pytest.param(PENGUINS + "Emperor,50,Dream,9000\n", {}, ["class 'Emperor' has 1 row"], id="a-class-of-one"),
    pytest.param(PENGUINS.replace("46.5", "").replace("40.3", "NA"), {},
                 ["column 'bill_mm': 2 missing values", "lines 3, 7", "missing: error | drop | mean"],
                 id="missing-values"),
    pytest.param(PENGUINS.replace("species,bill_mm,island,mass_g", "species,bill_mm,island,species"), {},
                 ["column 'species' appears 2 times in the header (columns 1 and 4); name each column once"],
                 id="target-named-twice"),  # else the second would be a feature, 'species.1'
    pytest.param(PENGUINS.replace("bill_mm,island", "island ,island"), {},
                 ["column 'island' appears 2 times in the header (columns 2 and 3)"],
                 id="named-twice-but-for-a-space"),
    pytest.param(PENGUINS.replace("Torgersen,3750", '"Torgersen,\nthe\r\nisland",3750').replace("40.3", ""), {},
                 ["column 'bill_mm': 1 missing value, on line 9;"], id="lines-after-a-cell-of-three"),
    pytest.param(PENGUINS.replace("Gentoo,46.5,Biscoe,4500", ",,,"), {},
                 ["column 'bill_mm': 1 missing value, on line 3"], id="a-row-of-empty-cells"),  # not a blank line
    pytest.param(PENGUINS.replace("Gentoo,46.5", ",46.5"), {"missing": "mean"},
                 ["column 'species'", "line 3", "missing: drop"], id="missing-target"),
    pytest.param(re.sub(r",(\d+)\n", ",\n", PENGUINS), {"missing": "drop"},
                 ["missing: drop would drop every row: column 'mass_g' is empty on every line; leave it out with "
                  "data.features"], id="drop-an-empty-column"),  # a delimiter ending each line does this
    pytest.param(re.sub(r"\n[A-Za-z]+,", "\n,", PENGUINS), {"missing": "drop"},
                 ["missing: drop would drop every row: the target column 'species' is empty on every line"],
                 id="drop-an-empty-target"),
    pytest.param("\n".join([PENGUINS.splitlines()[0]] + [",".join("" if k == 1 + n % 3 else cell for k, cell in
                                                                   enumerate(line.split(",")))
                                                          for n, line in enumerate(PENGUINS.splitlines()[1:])]),
                 {"missing": "drop"}, ["missing: drop would drop every row: every row has a missing value; missing: "
                                       "mean fills"], id="drop-every-row"),
])
def test_each_bad_file_is_one_data_error_naming_the_file(tmp_path, text, settings, needles):
    path = tmp_path / "table.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError) as caught:
        load_split(_data({"dataset": "csv", "path": str(path), "target": "species", **settings}), 0)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for needle in needles:
        assert needle in message, message


def test_a_column_without_a_name_is_left_out_if_empty_and_refused_if_not(tmp_path):
    """A delimiter ending each line makes an empty column without a name: left out, with a note.
    A nameless column with values (a row number written by pandas' to_csv) is never a feature
    unless data.features names the others."""
    trailing = "".join(line + ",\n" for line in PENGUINS.splitlines())
    split_ = load_split(_csv(tmp_path, trailing), 0)
    assert split_.transform.columns == ["bill_mm", "island", "mass_g"]
    assert split_.notes == ["left out column 5: no name in the header and no value on any line (a delimiter ending "
                            "each line)"]
    numbered = "".join(f"{n - 1 if n else ''},{line}\n" for n, line in enumerate(PENGUINS.splitlines()))
    message = _error(tmp_path, numbered)
    assert message.endswith("column 1 has no name in the header, and values; name it, or pick the feature columns "
                            "with data.features (a row number written by pandas' to_csv has no name: write the file "
                            "with index=False)")
    split_ = load_split(_csv(tmp_path, numbered, features=["bill_mm", "mass_g"]), 0)
    assert split_.transform.columns == ["bill_mm", "mass_g"] and split_.notes == []


def test_a_fifo_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file|named pipe|FIFO"):
        read_table(str(fifo))


def test_a_file_too_large_is_refused(tmp_path, monkeypatch):
    import nnfw_cli.data

    monkeypatch.setattr(nnfw_cli.data, "MAX_DATA_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text(PENGUINS)
    with pytest.raises(DataError, match="big.csv"):
        read_table(str(path))
    assert MAX_DATA_BYTES > 10**8


def _numbers_csv(tmp_path: Path, rows: int = 300) -> str:
    """A table of numbers (floats with as many digits as a CSV writer gives, whole numbers, a
    negative exponent) and a target of class names."""
    rng = np.random.default_rng(5)
    text = "x,count,tiny,species\n" + "".join(
        f"{rng.normal():.17g},{int(rng.integers(-50, 50))},{rng.normal() * 1e-7:.6e},{'abc'[k % 3]}\n"
        for k in range(rows))
    path = tmp_path / "numbers.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("settings", [
    {}, {"standardize": False}, {"missing": "mean"}, {"validation_fraction": 0.2}, {"max_rows": 100},
    {"features": ["tiny", "x"], "test_fraction": 0.3},
])
def test_a_table_of_numbers_takes_the_array_way_to_the_arrays_the_table_way_gives(tmp_path, monkeypatch, settings):
    import nnfw_cli.data

    data = _data({"dataset": "csv", "path": _numbers_csv(tmp_path), "target": "species", **settings})
    fast = load_split(data, 4)
    monkeypatch.setattr(nnfw_cli.data, "_finite_columns", lambda table, features: None)  # every cell the table's way
    plain = load_split(data, 4)
    for name in ("X_train", "X_test", "y_train", "y_test", "X_val", "y_val"):
        mine, theirs = getattr(fast, name), getattr(plain, name)  # X_val and y_val: None without a validation split
        assert (mine is None and theirs is None) or (np.array_equal(mine, theirs) and mine.dtype == theirs.dtype), name
    assert fast.X_train.flags.c_contiguous and len(fast.X_train) > 0
    assert fast.transform == plain.transform and fast.notes == plain.notes and fast.sha256 == plain.sha256


def test_numbers_are_read_as_written_and_text_stays_text(tmp_path):
    path = tmp_path / "kinds.csv"
    path.write_text("x, flag ,code,label\n0.1,True,007,1\n2.5e-3,False,7,2\n-3,True,x7,1\n")
    table = read_table(str(path), numbers=True, text=["label"])
    assert table["x"].tolist() == [0.1, 0.0025, -3.0]
    assert table["flag"].tolist() == ["True", "False", "True"]  # a category, not a bool
    assert table["code"].tolist() == ["007", "7", "x7"]  # a column with text in it: every cell as written
    assert table["label"].tolist() == ["1", "2", "1"]  # the target: class names as written
    assert list(read_table(str(path))["x"]) == ["0.1", "2.5e-3", "-3"]  # without numbers: text throughout


@pytest.mark.slow
def test_a_text_cell_far_down_a_column_of_numbers_is_named_with_its_line(tmp_path):
    rows = 300_000  # more rows than the parser reads at once: the column's first part holds numbers only
    text = "species,x\n" + "".join(f"{'ab'[k % 2]},{k % 97}.5\n" for k in range(rows)) + "a,oops\n"
    message = _error(tmp_path, text)
    assert f"line {rows + 2}, column 'x': 'oops' is not a finite number" in message, message


def test_a_csv_too_large_for_the_memory_is_refused_before_it_is_read(tmp_path):
    from nnfw_cli.config import load_config
    from nnfw_cli.experiment import CSV_BYTE_COST, check_data_memory

    (tmp_path / "t.csv").write_text(PENGUINS)
    config_path = tmp_path / "c.yaml"
    config_path.write_text("data: {dataset: csv, path: t.csv, target: species}\n"
                           "model: {layers: [{type: linear, units: 3}, softmax]}\nloss: cross_entropy\n")
    config = load_config(config_path)
    size = len(PENGUINS.encode())
    check_data_memory(config, limit=CSV_BYTE_COST * size)  # just fits
    with pytest.raises(DataError, match=r"t\.csv: a file of .* GiB would need about .* GiB to read and split"):
        check_data_memory(config, limit=CSV_BYTE_COST * size - 1)


def test_missing_drop_reports_the_rows_it_dropped(tmp_path):
    text = PENGUINS.replace("46.5", "").replace("Chinstrap,49.0,Dream,3700", "Chinstrap,49.0,,3700") \
        + "".join(f"Adelie,4{k}.0,Dream,3{k}00\n" for k in range(3))
    split_ = load_split(_csv(tmp_path, text, missing="drop"), 0)
    assert split_.notes == ["dropped 2 rows with missing values (lines 3, 5)"]
    assert len(split_.y_train) + len(split_.y_test) == 13


def test_missing_mean_fills_from_training_rows_only(tmp_path):
    text = "species,x\n" + "".join(f"{'ab'[k % 2]},{k}\n" for k in range(20)) + "a,\n"
    data = _csv(tmp_path, text, missing="mean", standardize=False)
    split_ = load_split(data, 0)
    train_mean = split_.transform.fill["x"]
    everything = np.concatenate([split_.X_train[:, 0], split_.X_test[:, 0]])
    filled = everything[~np.isin(everything, np.arange(20))]
    assert filled.tolist() == [train_mean]
    known = split_.X_train[:, 0][np.isin(split_.X_train[:, 0], np.arange(20))]
    assert train_mean == pytest.approx(known.mean())


# -- transforms fitted on training rows only -------------------------------------------------


def test_standardisation_uses_training_rows_only(tmp_path):
    split_ = load_split(_csv(tmp_path, PENGUINS, features=["bill_mm", "mass_g"], test_fraction=0.25), 0)
    np.testing.assert_allclose(split_.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(split_.X_train.std(axis=0), 1)
    # Had the test rows been in the statistics, the training rows would not be centred exactly.
    assert np.abs(split_.X_test.mean(axis=0)).max() > 1e-6


def test_one_hot_categories_come_from_training_rows_only():
    train = pd.DataFrame({"island": ["Biscoe", "Dream", "Biscoe"]})
    test = pd.DataFrame({"island": ["Dream", "Torgersen"]}, index=[7, 8])
    test.attrs["lines"] = True
    transform = fit(train)
    assert transform.categories == {"island": ["Biscoe", "Dream"]}
    np.testing.assert_array_equal(apply(transform, train), [[1, 0], [0, 1], [1, 0]])
    with pytest.raises(DataError, match=r"t.csv: line 8, column 'island': category 'Torgersen' was never seen"):
        apply(transform, test, "t.csv")


def test_a_category_seen_only_in_test_rows_is_an_error_naming_its_line(tmp_path):
    text = PENGUINS.replace("Torgersen", "Dream") + "".join(f"{name},4{k}.0,Biscoe,4000\n" for k, name in enumerate(["Adelie", "Gentoo"] * 3))
    text += "Chinstrap,45.0,Rare,3000\n"
    with pytest.raises(DataError) as caught:
        for seed in range(20):  # some seed puts the one 'Rare' row in the test split
            load_split(_csv(tmp_path, text), seed)
    assert "column 'island': category 'Rare' was never seen in the training rows" in str(caught.value)
    assert "line 20" in str(caught.value)


def test_apply_matches_columns_by_name_in_any_order_and_ignores_extras(tmp_path):
    split_ = load_split(_csv(tmp_path, PENGUINS), 0)
    table = read_table(str(tmp_path / "table.csv"))
    shuffled = table[["mass_g", "note", "island", "bill_mm"]] if "note" in table else \
        table.assign(note="x")[["mass_g", "note", "island", "bill_mm", "species"]]
    np.testing.assert_array_equal(apply(split_.transform, shuffled), apply(split_.transform, table))
    assert labels(split_.transform, table).tolist() == [["Adelie", "Chinstrap", "Gentoo"].index(s)
                                                         for s in table["species"]]
    with pytest.raises(DataError, match="no column 'island'"):
        apply(split_.transform, table.drop(columns="island"))


def test_numbers_written_with_spaces_around_them_read_as_the_numbers(tmp_path):
    """Cells as written (``nnfw predict`` and ``eval`` read them so): spaces, tabs and no-break
    spaces around a number leave the number; a cell that is no number is named with its line."""
    transform = fit(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]]), ["a", "b"], standardize=True)
    clean = apply(transform, np.array([[1.5, -2.0], [1000.0, 0.25], [-0.0, 7.0], [3.0, 1e-3]]))
    written = pd.DataFrame({"a": [" 1.5", "1e3\t", "\u00a0-0 ", "3"], "b": ["-2", " .25 ", "7.\u00a0", "+1e-3"]},
                           index=[2, 3, 4, 5])
    written.attrs["lines"] = True
    np.testing.assert_array_equal(apply(transform, written, "points.csv"), clean)
    written.loc[4, "b"] = " 7,5 "
    with pytest.raises(DataError, match="points.csv: line 4, column 'b': ' 7,5 ' is not a finite number"):
        apply(transform, written, "points.csv")


def test_numbers_written_with_a_plus_read_as_python_reads_them():
    """Text cells with a plus read as Python (and pandas' CSV parser, which training uses) read
    them; pandas' conversion of text alone is a unit in the last place off for some."""
    cells = ["+902.4215555380657", " +240.14363833505402", "+37470e265", "+.5", "+714338e-168"]
    transform = fit(np.zeros((2, len(cells))), [f"x{i}" for i in range(len(cells))])
    written = pd.DataFrame([cells], columns=transform.columns, dtype=object)
    assert apply(transform, written).tolist() == [[float(cell) for cell in cells]]
    with pytest.raises(DataError, match="'\\+-5' is not a finite number"):
        apply(transform, pd.DataFrame([["+-5", *cells[1:]]], columns=transform.columns))


def test_a_fill_value_is_the_mean_of_the_numbers_as_python_reads_them():
    """A column of text cells (a '?' for a missing value makes it text) is filled with the mean of
    its numbers as they read when predicted with, a plus or not."""
    cells = ["+902.4215555380657", " +240.14363833505402", "?", "+.5", None, "-3e2"]
    table = pd.DataFrame({"x": cells, "y": ["1"] * len(cells)}, dtype=object)
    transform = fit(table, missing="mean")
    numbers = [float(cell) for cell in cells if cell not in ("?", None)]
    assert transform.fill["x"] == float(np.mean(numbers))


def test_numbers_too_large_to_square_are_scaled_and_filled_with_finite_figures():
    """1e300 squared overflows: the spread is found with the column divided by its largest magnitude."""
    X = np.array([[1.0, 1e300, 1e308], [2.0, -3e300, 1e308], [3.0, 2e300, np.nan]])
    transform = fit(X[:2, :2], standardize=True)
    assert np.isfinite(transform.scale).all() and np.isfinite(transform.mean).all()
    np.testing.assert_allclose(transform.mean, [1.5, -1e300], rtol=1e-15)
    np.testing.assert_allclose(transform.scale, [0.5, 2e300], rtol=1e-15)
    np.testing.assert_allclose(apply(transform, X[:, :2]), [[-1, 1], [1, -1], [3, 1.5]], rtol=1e-15)
    filled = fit(pd.DataFrame(X, columns=["a", "b", "c"]).astype(str).replace("nan", None), missing="mean")
    assert filled.fill["c"] == 1e308 and filled.fill["b"] == 0.0


def test_a_transform_round_trips_through_json(tmp_path):
    split_ = load_split(_csv(tmp_path, PENGUINS, missing="mean"), 0)
    again = Transform.from_dict(json.loads(json.dumps(split_.transform.to_dict())))
    table = read_table(str(tmp_path / "table.csv"))
    np.testing.assert_array_equal(apply(again, table), apply(split_.transform, table))
    assert again.feature_names == split_.feature_names and again.class_names == split_.class_names


# -- scikit-learn's real sets and the generated ones ------------------------------------------


@pytest.mark.parametrize(("name", "rows", "n_features", "classes"), [
    ("digits", 1797, 64, [str(k) for k in range(10)]),
    ("iris", 150, 4, ["setosa", "versicolor", "virginica"]),
    ("wine", 178, 13, ["class_0", "class_1", "class_2"]),
    ("breast_cancer", 569, 30, ["malignant", "benign"]),
])
def test_real_sets_shapes_and_classes(name, rows, n_features, classes):
    split_ = load_split(_data({"dataset": name}), 0)
    assert len(split_.y_train) + len(split_.y_test) == rows
    assert split_.n_features == n_features and split_.class_names == classes
    assert set(split_.y_test) == set(range(len(classes)))
    np.testing.assert_allclose(split_.X_train.mean(axis=0), 0, atol=1e-9)  # standardised by default


@pytest.mark.parametrize("name", ["blobs", "spiral"])
@pytest.mark.parametrize("k", [3, 5])
def test_blobs_and_spirals_have_k_classes(name, k):
    split_ = load_split(_data({"dataset": name, "classes": k, "n_samples": 500}), 0)
    assert split_.n_classes == k and split_.n_features == 2
    assert np.bincount(np.concatenate([split_.y_train, split_.y_test])).tolist() == [500 // k + (i < 500 % k)
                                                                                     for i in range(k)]


def test_spiral_arms_are_evenly_spaced():
    X, y = make_dataset("spiral", 3000, 0.0, 0, classes=3)
    start = [np.arctan2(*X[(y == arm) & (np.hypot(*X.T) < 0.05)].T).mean() for arm in range(3)]
    gaps = np.diff(np.unwrap(start))
    np.testing.assert_allclose(np.abs(gaps) % (2 * np.pi), 2 * np.pi / 3, atol=0.3)


@pytest.mark.parametrize("name", ["circles", "moons", "spiral", "xor", "gaussian"])
def test_generated_sets_are_exactly_the_split_of_make_dataset(name):
    data = _data({"dataset": name, "n_samples": 400})
    expected = split(*make_dataset(name, 400, data.noise, 11, **data.options()), 0.2, 11)
    split_ = load_split(data, 11)
    for got, want in zip((split_.X_train, split_.X_test, split_.y_train, split_.y_test), expected):
        assert got.tobytes() == np.asarray(want).tobytes()


def test_playground_features_let_a_linear_model_separate_circles():
    from sklearn.linear_model import LogisticRegression

    data = _data({"dataset": "circles", "n_samples": 600, "features": list(PLAYGROUND)})
    split_ = load_split(data, 0)
    assert split_.feature_names == list(PLAYGROUND)
    x1, x2 = split_.transform.columns
    raw = _data({"dataset": "circles", "n_samples": 600})
    plain = load_split(raw, 0)
    np.testing.assert_array_equal(split_.X_train[:, 2], plain.X_train[:, 0] ** 2)
    np.testing.assert_array_equal(split_.X_train[:, 6], np.sin(plain.X_train[:, 1]))
    # No hidden layer: a logistic regression on the features.
    assert LogisticRegression().fit(split_.X_train, split_.y_train).score(split_.X_test, split_.y_test) > 0.97
    assert LogisticRegression().fit(plain.X_train, plain.y_train).score(plain.X_test, plain.y_test) < 0.75


def test_data_seed_fixes_the_data_whatever_the_top_level_seed():
    config = validate({"seed": 5, "data": {"dataset": "moons", "seed": 9}})
    assert config.data_seed() == 9
    assert validate({"seed": 5, "data": {"dataset": "moons"}}).data_seed() == 5
    first, second = load_split(config.data, 9), load_split(config.data, 9)
    np.testing.assert_array_equal(first.X_train, second.X_train)
    assert not np.array_equal(first.X_train, load_split(config.data, 10).X_train)


def test_blobs_keep_their_centres_whatever_the_seed():
    """Fresh data drawn with another seed (nnfw eval --seed) must be the same problem."""
    from nnfw_cli.data import make_dataset

    means = []
    for seed in (0, 1, 2):
        X, y = make_dataset("blobs", 4000, 1.0, seed, classes=4)
        means.append(np.array([X[y == k].mean(axis=0) for k in range(4)]))
    np.testing.assert_allclose(means[1], means[0], atol=0.15)
    np.testing.assert_allclose(means[2], means[0], atol=0.15)


@pytest.mark.parametrize("settings", [{}, {"standardize": True}, {"expand": ["x1_squared", "x1_x2", "sin_x2"]},
                                      {"standardize": True, "expand": ["x1", "x2_squared"]}])
def test_an_array_of_numbers_gives_what_the_same_table_gives(settings):
    """Arrays of numbers (generated data, millions of rows) skip the table's copies: same numbers."""
    import pandas as pd

    X = np.random.default_rng(0).normal(size=(50, 2))
    table = pd.DataFrame(X, columns=["x1", "x2"])
    from_array, from_table = fit(X, ["x1", "x2"], **settings), fit(table, **settings)
    assert from_array == from_table
    np.testing.assert_array_equal(apply(from_array, X), apply(from_table, table))
    assert apply(Transform(["x1", "x2"]), X) is not None and np.shares_memory(apply(Transform(["x1", "x2"]), X), X)
    with pytest.raises(DataError, match="column 'x2'"):  # a bad cell is still named
        apply(from_array, np.array([[0.0, np.nan]]))


def test_apply_leaves_an_array_it_is_given_as_it_was_unless_it_may_overwrite_it(rng):
    X = rng.normal(size=(50, 2))
    kept = X.copy()
    for expand in (None, ["x1", "x1_x2"]):
        transform = fit(X, expand=expand, standardize=True)
        first = apply(transform, X)
        np.testing.assert_array_equal(X, kept)  # the caller's array untouched
        assert first is not X
    transform = fit(X, standardize=True)
    expected = apply(transform, X)
    assert apply(transform, X, overwrite=True) is X  # given up: standardised in place, the same numbers
    np.testing.assert_array_equal(X, expected)
    table = pd.DataFrame(kept, columns=["x1", "x2"])
    np.testing.assert_array_equal(apply(transform, table), expected)  # a table's numbers: the same again
    np.testing.assert_array_equal(table.to_numpy(), kept)


@st.composite
def _tables_with_empty_cells(draw):
    """CSV text of 4 columns whose cells may be empty anywhere, and the line of a row left short
    (fewer cells than the header), or None."""
    rows = draw(st.lists(st.lists(st.one_of(st.just(""), st.integers(0, 99).map(str)), min_size=4, max_size=4),
                         min_size=1, max_size=12))
    short = draw(st.one_of(st.none(), st.integers(0, len(rows) - 1)))
    lines = [",".join(row) for row in rows]
    if short is not None:
        lines[short] = ",".join(rows[short][: draw(st.integers(1, 3))])
        short = short if lines[short] else None  # one empty cell is a blank line, which is skipped
    return "a,b,c,d\n" + "\n".join(lines) + "\n", None if short is None else short + 2


@given(_tables_with_empty_cells())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_short_row_is_found_wherever_other_cells_are_empty(tmp_path, case):
    text, short_line = case
    path = tmp_path / "table.csv"
    path.write_text(text)
    if short_line is None:
        if any(line for line in text.splitlines()[1:]):  # a row of empty cells (',,,') is a row, kept
            table = read_table(str(path), numbers=True)
            assert len(table.columns) == 4
            assert table.index.tolist() == [n for n, line in enumerate(text.splitlines(), 1) if n > 1 and line]
        else:  # blank lines only
            with pytest.raises(DataError, match="only a header row"):
                read_table(str(path), numbers=True)
        return
    with pytest.raises(DataError, match=f"line {short_line} has (1 cell|[23] cells),"):
        read_table(str(path), numbers=True)
