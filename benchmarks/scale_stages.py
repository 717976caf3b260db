#!/usr/bin/env python
"""One size of bench.py's scale case, in a process of its own (so that its peak memory is nnfw's):

    python benchmarks/scale_stages.py N_SAMPLES OUT.json

trains configs/circles.yaml (its net and batch size) for one epoch on N_SAMPLES samples, stage by
stage as ``nnfw train`` does, and writes the seconds of each stage to OUT.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def scale_stages(n_samples: int) -> dict[str, Any]:
    """One ``nnfw train`` of configs/circles.yaml on ``n_samples`` samples, one epoch, stage by stage."""
    from nnfw_cli import experiment, runs
    from nnfw_cli.config import load_config

    folder = tempfile.mkdtemp(prefix="nnfw-scale-")
    config = load_config(ROOT / "configs" / "circles.yaml",
                         [f"data.n_samples={n_samples}", "training.epochs=1", f"output.dir={json.dumps(folder)}"])
    seconds = {}
    start = time.perf_counter()  # what every size pays once, as a process starts: not counted below
    # what the pictures and files import, lazily, besides scikit-learn: not counted in their seconds
    import matplotlib.backends.backend_agg, matplotlib.figure, pandas  # noqa: F401, E401
    import sklearn.datasets, sklearn.metrics, sklearn.model_selection  # noqa: F401, E401
    seconds["imports"] = time.perf_counter() - start
    start = time.perf_counter()
    session = experiment.Session(config)
    seconds["data"] = time.perf_counter() - start
    session.run_dir = runs.create_run_dir(folder, "scale", None)
    data, model = session.data, session.model
    start = time.perf_counter()
    model.fit(data.X_train, data.y_train, loss=session.loss, optimizer=session.optimizer, epochs=1,
              batch_size=config.training.batch_size, seed=session.streams.shuffle)
    seconds["train_epoch"] = time.perf_counter() - start
    start = time.perf_counter()
    scored = experiment.score(model, data.X_test, data.y_test, session.loss)
    metrics = experiment.final_metrics(model, data, session.loss, scored)
    seconds["evaluate"] = time.perf_counter() - start
    start = time.perf_counter()
    history = [{"epoch": 1, "train_loss": metrics["loss"], "test_loss": metrics["loss"], "test_roc_auc": metrics["roc_auc"]}]
    if session.grid is not None:
        session.snapshot(history[0])
    experiment.write_results(session.run_dir, config, model, data, history,
                             {**metrics, "status": "completed", "epochs": 1, "train_seconds": seconds["train_epoch"]},
                             test_output=scored[1], box=session.box)
    seconds["write_and_draw"] = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    return {"n_samples": n_samples, "seconds": seconds, "roc_auc": metrics["roc_auc"]}


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(json.dumps(scale_stages(int(sys.argv[1]))))
