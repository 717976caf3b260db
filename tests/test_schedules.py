"""Learning-rate schedules: each one's rates against a list worked out by hand, the config that
names them, the rates a run records, and the rate reaching the fast training step."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from nnfw_cli import experiment, runs
from nnfw_cli.config import SCHEDULE_SPECS, load_config, schedule_settings, validate
from nnfw_cli.errors import ConfigError
from nnfw_cli.nn import SGD, BinaryCrossEntropy, Linear, Model, ReLU, Sigmoid
from nnfw_cli.schedules import SCHEDULES, Cosine, Exponential, Plateau, Schedule, Step, learning_rates, make_schedule

# -- each schedule against a hand-computed list -----------------------------------------------


def test_step():
    assert learning_rates(Step(0.1, 7, step_size=3, gamma=0.5), 7) == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]


def test_exponential():
    assert learning_rates(Exponential(0.2, 4, gamma=0.5), 4) == [0.2, 0.1, 0.05, 0.025]


def test_cosine_from_the_rate_to_min_lr():
    # k = 0..4 over n - 1 = 4 steps: lr (1 + cos(pi k / 4)) / 2 = 0.1, 0.0853553, 0.05, 0.0146447, 0
    expected = [0.1, 0.1 * (1 + math.sqrt(0.5)) / 2, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2, 0.0]
    assert learning_rates(Cosine(0.1, 5), 5) == pytest.approx(expected, abs=1e-15)


def test_cosine_with_warmup_and_a_floor():
    # warm-up 0.1 * 1/3, 0.1 * 2/3; then 0.01 + 0.09 (1 + cos(pi k / 3)) / 2 for k = 0..3
    expected = [0.1 / 3, 0.2 / 3, 0.1, 0.01 + 0.09 * 0.75, 0.01 + 0.09 * 0.25, 0.01]
    assert learning_rates(Cosine(0.1, 6, min_lr=0.01, warmup_epochs=2), 6) == pytest.approx(expected, abs=1e-15)


def test_cosine_of_one_epoch_after_the_warmup_is_the_rate():
    assert learning_rates(Cosine(0.1, 3, min_lr=0.01, warmup_epochs=2), 3) == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])


def test_plateau_lowers_the_rate_after_patience_epochs_without_improvement():
    val_loss = [1.0, 0.8, 0.81, 0.82, 0.79, 0.80, 0.795, 0.9, 0.7, 0.75]
    history = [{"epoch": e, "val_loss": v} for e, v in enumerate(val_loss, 1)]
    rates = learning_rates(Plateau(0.1, 11, factor=0.5, patience=2), 11, history)
    # best 0.8 at epoch 2; epochs 3, 4 no better: halved after epoch 4 (rate of epoch 5); 0.79 at
    # epoch 5 is the new best; 6 and 7 no better: halved after 7; 0.7 at 9 best; 10 worse, 11 unseen
    assert rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025]


def test_plateau_minimum_delta_floor_and_a_maximised_monitor():
    history = [{"epoch": e, "val_roc_auc": v} for e, v in enumerate([0.80, 0.805, 0.81, 0.90, 0.90], 1)]
    schedule = Plateau(0.1, 6, factor=0.1, patience=1, monitor="val_roc_auc", min_delta=0.01, min_lr=0.005)
    # 0.805 and 0.81 are not 0.01 better than 0.80: cut after 2 (to 0.01) and after 3 (to the floor
    # 0.005); 0.90 at epoch 4 is; epoch 5 is no better: cut, but the floor holds
    assert learning_rates(schedule, 6, history) == pytest.approx([0.1, 0.1, 0.01, 0.005, 0.005, 0.005], rel=1e-15)


def test_plateau_compares_only_epochs_that_scored_the_monitor():
    history = [{"epoch": 1, "val_loss": 1.0}, {"epoch": 2}, {"epoch": 3, "val_loss": math.nan},
               {"epoch": 4, "val_loss": 1.5}]
    # patience 2 has passed at epoch 3, but epoch 3 scored nothing: the cut waits for epoch 4's score
    assert learning_rates(Plateau(0.1, 5, factor=0.5, patience=2), 5, history) == [0.1, 0.1, 0.1, 0.1, 0.05]


def test_plateau_state_round_trips_through_json():
    import json

    schedule = Plateau(0.1, 10, factor=0.5, patience=1)
    for epoch, value in enumerate([1.0, 1.1, 1.2], 1):
        schedule.observe(epoch, {"val_loss": value})
    again = Plateau(0.1, 10, factor=0.5, patience=1)
    again.load_state_dict(json.loads(json.dumps(schedule.state_dict())))
    assert again.state_dict() == schedule.state_dict() and again.rate(4) == schedule.rate(4) == 0.025
    with pytest.raises(ValueError):
        again.load_state_dict({"current": "fast", "best": None, "since": 0})


def test_no_schedule_is_the_constant_rate():
    schedule = make_schedule(None, 0.03, 5)
    assert type(schedule) is Schedule and learning_rates(schedule, 5) == [0.03] * 5


# -- the config names every schedule with its settings ----------------------------------------


def test_every_schedule_is_a_config_name_with_its_settings():
    assert list(SCHEDULE_SPECS) == list(SCHEDULES)
    for name, cls in SCHEDULES.items():
        fields = [key for key in SCHEDULE_SPECS[name].model_fields if key != "type"]
        assert fields == list(schedule_settings(cls)), name


@pytest.mark.parametrize("spec", [{"type": "step", "step_size": 2, "gamma": 0.5}, {"type": "exponential", "gamma": 0.9},
                                  {"type": "cosine", "min_lr": 0.001, "warmup_epochs": 3},
                                  {"type": "plateau", "factor": 0.5, "patience": 4, "monitor": "train_loss"}])
def test_a_schedule_from_the_config_is_the_schedule_built(spec):
    config = validate({"training": {"lr_schedule": spec, "epochs": 9, "learning_rate": 0.05}})
    built = make_schedule(config.training.lr_schedule.model_dump(), 0.05, 9)
    direct = SCHEDULES[spec["type"]](0.05, 9, **{k: v for k, v in spec.items() if k != "type"})
    assert learning_rates(built, 9) == learning_rates(direct, 9)


@pytest.mark.parametrize("spec, message", [
    ({"type": "step"}, "training.lr_schedule.step_size: required"),
    ({"type": "step", "step_size": 0}, "training.lr_schedule.step_size: must be >= 1"),
    ({"type": "exponential", "gamma": 1.5}, "training.lr_schedule.gamma: must be <= 1"),
    ({"type": "cosine", "min_lr": 0.5}, "training.lr_schedule.min_lr: must be at most training.learning_rate"),
    ({"type": "plateau", "monitor": "val_auc"}, "unknown monitor 'val_auc'; did you mean 'val_roc_auc'?"),
    ({"type": "plateau"}, "val_loss is scored on the validation split, and there is none"),
    ("cosin", "unknown schedule 'cosin'; did you mean 'cosine'?"),
    ({"type": "cosine", "warmup": 2}, "training.lr_schedule.warmup: unknown key; did you mean 'warmup_epochs'?"),
    ({"type": "cosine", "warmup_epochs": 100}, "training.lr_schedule.warmup_epochs: must be fewer than training.epochs "
                                               "(100): the rate would never reach training.learning_rate (got 100)"),
])
def test_a_bad_schedule_is_one_clear_message(spec, message):
    with pytest.raises(ConfigError) as error:
        validate({"training": {"lr_schedule": spec}})
    assert message in str(error.value)


def test_a_bare_name_is_a_schedule_with_its_defaults():
    config = validate({"training": {"lr_schedule": "cosine"}})
    assert config.training.lr_schedule.model_dump() == {"type": "cosine", "min_lr": 0.0, "warmup_epochs": 0}


# -- a run records the rate of every epoch ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("spec, expected", [
    ({"type": "step", "step_size": 2, "gamma": 0.5}, [0.02, 0.02, 0.01, 0.01, 0.005, 0.005]),
    ({"type": "exponential", "gamma": 0.5}, [0.02, 0.01, 0.005, 0.0025, 0.00125, 0.000625]),
])
def test_history_csv_holds_each_epochs_rate(make_config, spec, expected):
    run = experiment.train(load_config(make_config({"training.epochs": 6, "training.lr_schedule": spec})), "s", "s")
    history = pd.read_csv(run.run_dir / runs.HISTORY)
    assert list(history["lr"]) == expected  # read back exactly: the CSV holds every digit


@pytest.mark.slow
def test_a_run_without_a_schedule_records_its_one_rate(make_config):
    run = experiment.train(load_config(make_config()), "s", "s")
    assert list(pd.read_csv(run.run_dir / runs.HISTORY)["lr"]) == [0.02] * 5


# -- the rate reaches the fast training step --------------------------------------------------


def test_a_changed_rate_takes_effect_at_the_next_step(rng):
    """Full-batch SGD: after the rate changes, the step is exactly ``w - new_rate * gradient(w)``."""
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 2, 40)
    model = Model([Linear(2, 4, rng=1), ReLU(), Linear(4, 1, init="xavier", rng=2), Sigmoid()])
    optimizer, loss = SGD(learning_rate=0.1), BinaryCrossEntropy()
    seen = {}

    def halve_after_epoch_1(m: Model, logs: dict) -> None:
        if logs["epoch"] == 1:
            seen["weights"] = copy.deepcopy(m)
            optimizer.learning_rate = 0.025

    model.fit(X, y, loss=loss, optimizer=optimizer, epochs=2, callbacks=[halve_after_epoch_1])
    at_1 = seen["weights"]
    output = at_1.forward(X, training=True)
    _, grad = loss.value_and_grad(y.reshape(-1, 1).astype(float), output)
    at_1.backward(grad)
    for (key, before, gradient), (_, after, _) in zip(at_1.parameters(), model.parameters()):
        np.testing.assert_allclose(after, before - 0.025 * gradient, rtol=1e-12, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_rate_changed_between_epochs_is_the_rate_of_a_fresh_step(rng, name, batch_size):
    """One fit whose callback changes the rate equals two fits, the second built afresh with the
    new rate: the training step keeps no copy of the rate from when it was made."""
    from nnfw_cli.nn import OPTIMIZERS

    X, y = rng.normal(size=(50, 2)), rng.integers(0, 2, 50)

    def fresh() -> Model:
        return Model([Linear(2, 6, rng=1), ReLU(), Linear(6, 1, init="xavier", rng=2), Sigmoid()])

    once, optimizer = fresh(), OPTIMIZERS[name](learning_rate=0.05)

    def lower(model: Model, logs: dict) -> None:
        optimizer.learning_rate = 0.05 * 0.1 ** logs["epoch"]

    once.fit(X, y, loss=BinaryCrossEntropy(), optimizer=optimizer, epochs=3, batch_size=batch_size, seed=0,
             callbacks=[lower])
    twice, again, shuffle = fresh(), OPTIMIZERS[name](learning_rate=0.05), np.random.default_rng(0)
    for epoch in range(3):
        again.learning_rate = 0.05 * 0.1 ** epoch
        twice.fit(X, y, loss=BinaryCrossEntropy(), optimizer=again, epochs=epoch + 1, initial_epoch=epoch,
                  batch_size=batch_size, seed=shuffle)
    for (key, a, _), (_, b, _) in zip(once.parameters(), twice.parameters()):
        assert np.array_equal(a, b), key
    unchanged = fresh()
    unchanged.fit(X, y, loss=BinaryCrossEntropy(), optimizer=OPTIMIZERS[name](learning_rate=0.05), epochs=3,
                  batch_size=batch_size, seed=0)
    assert not np.array_equal(unchanged.parameters()[0][1], once.parameters()[0][1])
