"""nnfw against scikit-learn's MLPClassifier on the example configs, on the same rows.

For each config, nnfw trains in-process exactly as ``nnfw train`` does (run folder in a temporary
directory), then MLPClassifier trains on the same standardised train/test arrays
(``experiment.load_data``) with the same hidden widths, ReLU, Adam, learning rate, batch size and
number of epochs (``max_iter``, with early stopping switched off: ``tol=0`` and
``n_iter_no_change`` larger than the epochs), ``alpha=0`` (no L2 penalty, whatever weight decay
the config gives nnfw's optimizer) and ``random_state=0``. Both are scored on the held-out split: accuracy and ROC AUC (for more than
two classes the macro one-vs-rest AUC, as nnfw reports it).

    python benchmarks/own_data.py                       # every config below, seed from the config
    python benchmarks/own_data.py --seed 1              # another seed (split, init and shuffling)
    python benchmarks/own_data.py --configs breast_cancer,digits
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from nnfw_cli.config import load_config  # noqa: E402
from nnfw_cli.experiment import load_data, train  # noqa: E402
from nnfw_cli.metrics import macro_roc_auc  # noqa: E402

CONFIGS = ["digits", "iris", "wine", "breast_cancer", "wine_csv", "blobs", "spiral3"]


def mlp_settings(config) -> dict:
    """MLPClassifier's settings for the config's network and training."""
    hidden = [spec.units for spec in config.model.layers if spec.type == "linear"][:-1]
    activations = {spec.type for spec in config.model.layers if spec.type not in ("linear", "softmax", "sigmoid")}
    if activations - {"relu"}:
        raise SystemExit(f"only ReLU hidden layers are compared here, not {sorted(activations)}")
    optimizer = config.training.optimizer
    if optimizer.type != "adam":
        raise SystemExit(f"only Adam is compared here, not {optimizer.type}")
    epochs = config.training.epochs
    return dict(hidden_layer_sizes=tuple(hidden), activation="relu", solver="adam",
                learning_rate_init=config.training.learning_rate, batch_size=config.training.batch_size,
                max_iter=epochs, n_iter_no_change=epochs + 1, tol=0.0,
                alpha=0.0,
                beta_1=optimizer.beta1, beta_2=optimizer.beta2, epsilon=optimizer.epsilon,
                shuffle=True, random_state=0)


def run_one(name: str, seed: int | None, tmp: Path) -> dict:
    path = ROOT / "configs" / f"{name}.yaml"
    overrides = [f"output.dir={tmp}"] + ([f"seed={seed}"] if seed is not None else [])
    config = load_config(path, overrides)

    run = train(config, stem=name)
    nn_acc, nn_auc, nn_sec = run.metrics["accuracy"], run.metrics["roc_auc"], run.metrics["train_seconds"]

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = load_data(config)  # the very arrays the nnfw run trained and was scored on
    mlp = MLPClassifier(**mlp_settings(config))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(data.X_train, data.y_train)
    mlp_sec = time.perf_counter() - start
    proba = mlp.predict_proba(data.X_test)
    if proba.shape[1] == 2:
        proba = proba[:, 1:]  # P(class 1), as nnfw's one sigmoid unit gives
    mlp_acc = float(np.mean(mlp.predict(data.X_test) == data.y_test))
    mlp_auc = macro_roc_auc(data.y_test, proba)
    return dict(config=name, seed=config.seed, n_test=len(data.y_test), nn_acc=nn_acc, nn_auc=nn_auc,
                mlp_acc=mlp_acc, mlp_auc=mlp_auc, nn_sec=nn_sec, mlp_sec=mlp_sec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated config names in configs/")
    parser.add_argument("--seed", type=int, default=None, help="replace each config's seed")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs.split(","):
            rows.append(run_one(name.strip(), args.seed, Path(tmp)))

    print("| config | seed | test rows | nnfw acc | nnfw ROC AUC | MLP acc | MLP ROC AUC | nnfw s | MLP s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['seed']} | {r['n_test']} | {r['nn_acc']:.4f} | {r['nn_auc']:.4f} | "
              f"{r['mlp_acc']:.4f} | {r['mlp_auc']:.4f} | {r['nn_sec']:.2f} | {r['mlp_sec']:.2f} |")


if __name__ == "__main__":
    main()
