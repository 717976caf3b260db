"""Model: a stack of layers with fit, predict, save and load."""

from __future__ import annotations

import json
import os
import zipfile
from typing import IO, Any, Callable, Iterable, Sequence

import numpy as np

from .layers import Layer, layer_from_config
from .losses import Loss
from .optimizers import Optimizer

Callback = Callable[["Model", dict], None]


class History(list):
    """One dict of logs per epoch (``epoch``, ``train_loss``, ``val_loss``, ...)."""

    def column(self, key: str) -> list[float]:
        """The values of ``key`` over the epochs, NaN where an epoch did not log it."""
        return [logs.get(key, float("nan")) for logs in self]


class Model:
    """A sequence of layers trained end to end.

    Example:
        >>> model = Model([Linear(2, 16, rng=0), ReLU(), Linear(16, 1, init="xavier", rng=1), Sigmoid()])
        >>> history = model.fit(X, y, loss=BinaryCrossEntropy(), optimizer=Adam(0.01), epochs=100)
        >>> proba = model.predict(X)      # (n_samples, 1)
    """

    def __init__(self, layers: Iterable[Layer] = ()) -> None:
        self.layers: list[Layer] = list(layers)
        self.stop_training = False

    def add(self, layer: Layer) -> "Model":
        """Append ``layer``; returns the model so that calls can be chained."""
        self.layers.append(layer)
        return self

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(key, param, grad)`` for every parameter, keyed ``"{layer_index}.{name}"``."""
        return [(f"{i}.{name}", param, layer.grads[name])
                for i, layer in enumerate(self.layers) for name, param in layer.params.items()]

    def count_params(self) -> int:
        """The number of trainable numbers."""
        return sum(param.size for _, param, _ in self.parameters())

    def summary(self, in_features: int | None = None) -> str:
        """One line per layer (index, type and settings, output shape, parameter count) and the
        total, as Keras prints it; ``in_features`` defaults to the first layer's that states one."""
        stated = [layer.get_config()["in_features"] for layer in self.layers if "in_features" in layer.get_config()]
        width = in_features if in_features is not None else next(iter(stated), None)
        if width is None:
            raise ValueError("no layer states its in_features: pass summary(in_features=...)")
        rows = [("#", "layer", "output shape", "params")]
        for i, layer in enumerate(self.layers):
            width = layer.output_width(width)
            rows.append((str(i), repr(layer), f"(None, {width})", str(sum(p.size for p in layer.params.values()))))
        sizes = [max(len(row[k]) for row in rows) for k in range(3)]
        lines = [f"{a:<{sizes[0]}}  {b:<{sizes[1]}}  {c:<{sizes[2]}}  {d}" for a, b, c, d in rows]
        return "\n".join(lines + [f"total params: {self.count_params()}"])

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0][1].dtype if params else np.dtype(np.float64)

    def astype(self, dtype: Any) -> "Model":
        """Convert every parameter to ``dtype`` (for example float32 for speed) in place."""
        for layer in self.layers:
            layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
            layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
        return self

    def get_weights(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, keyed ``"{layer_index}.{name}"`` as in a saved model."""
        return {key: param.copy() for key, param, _ in self.parameters()}

    def set_weights(self, arrays: dict[str, np.ndarray]) -> None:
        """Set every parameter from ``arrays``, keyed as ``get_weights`` gives them; raises
        ValueError, changing nothing, when a key, shape or type does not fit."""
        expected = {key: param for key, param, _ in self.parameters()}
        if set(arrays) != set(expected):
            raise ValueError(f"arrays do not match the architecture (missing {sorted(set(expected) - set(arrays))}, "
                             f"unexpected {sorted(set(arrays) - set(expected))})")
        for key, param in expected.items():
            if arrays[key].shape != param.shape:
                raise ValueError(f"array {key!r} has shape {arrays[key].shape}, the architecture needs {param.shape}")
            if arrays[key].dtype.kind != "f":
                raise ValueError(f"array {key!r} has dtype {arrays[key].dtype}, expected floating point")
        self.astype(arrays[next(iter(expected))].dtype if expected else self.dtype)
        for key, param, _ in self.parameters():
            param[...] = arrays[key]

    def random_state(self) -> dict[str, dict]:
        """The state of each layer's random generator (dropout masks), keyed by layer index."""
        return {str(i): layer.rng.bit_generator.state for i, layer in enumerate(self.layers) if layer.rng is not None}

    def set_random_state(self, states: dict[str, dict]) -> None:
        """Put the layers' random generators back where ``random_state`` found them."""
        if set(states) != set(self.random_state()):
            raise ValueError(f"random states for layers {sorted(states)}, not {sorted(self.random_state())}")
        for index, state in states.items():
            self.layers[int(index)].rng.bit_generator.state = state

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run ``x`` (n_samples, n_features) through the layers."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Back-propagate ``grad``, the loss's gradient wrt the output; returns the input's."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def predict(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """The network's output for ``X`` (probabilities for a classifier), ``(n_samples, n_outputs)``."""
        from ._step import forward

        X, _ = self._as_input(X)
        parts = [forward(self.layers, X[i : i + batch_size]) for i in range(0, max(len(X), 1), batch_size)]
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])

    def evaluate(self, X: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """The mean loss over ``(X, y)``, computed from logits where the loss allows it."""
        from ._step import forward

        head, fused = self._head(loss)
        out = forward(head, self._as_input(X)[0])
        return loss(loss.prepare_target(y, out.shape[1], out.dtype), out, from_logits=fused)

    def score(self, X: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[float, np.ndarray]:
        """``(evaluate(X, y, loss), predict(X))`` from one pass through the layers."""
        from ._step import forward

        head, fused = self._head(loss)
        out = forward(head, self._as_input(X)[0])
        value = loss(loss.prepare_target(y, out.shape[1], out.dtype), out, from_logits=fused)
        return value, (self.layers[-1].forward(out) if fused else np.array(out))

    def _head(self, loss: Loss) -> tuple[list[Layer], bool]:
        """Layers to run before the loss; the last is left out when the loss fuses with it."""
        fused = bool(self.layers) and loss.activation is not None and isinstance(self.layers[-1], loss.activation)
        return (self.layers[:-1] if fused else self.layers), fused

    def _as_input(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        """``X`` in the model's dtype, and the width of the model's output for it; a clear message
        for an input that is not 2-D or has another width than the first layer takes."""
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2:
            raise ValueError(f"X must have shape (n_samples, n_features). Received shape {X.shape}")
        width = X.shape[1]
        for layer in self.layers:
            width = layer.output_width(width)
        return X, width

    def fit(self, X: np.ndarray, y: np.ndarray, loss: Loss, optimizer: Optimizer, epochs: int = 1,
            batch_size: int | None = None, seed: np.random.Generator | int | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None, callbacks: Sequence[Callback] = (),
            initial_epoch: int = 0, verbose: bool = False) -> History:
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns one log per epoch.

        Args:
            batch_size: ``None`` for full-batch gradient descent; otherwise mini-batches of this
                size, shuffled each epoch with ``seed`` (a Generator, used as it is, or a seed).
            validation: ``(X_val, y_val)``, scored with the loss after every epoch as ``val_loss``.
            callbacks: called as ``callback(model, logs)`` after every epoch; they may add
                entries to ``logs`` or set ``model.stop_training = True``.
            initial_epoch: epochs already done (to resume a run).
            verbose: print one line per epoch (``epoch 3/50  train_loss 0.1234  val_loss 0.1300``).
        """
        from ._step import TrainingStep

        for name, value, least in (("epochs", epochs, 0), ("initial_epoch", initial_epoch, 0),
                                   ("batch_size", 1 if batch_size is None else batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}. Received: {name}={value!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        repeated = [i for i, layer in enumerate(self.layers) if any(layer is other for other in self.layers[:i])]
        if repeated:
            raise ValueError(f"layer {repeated[0]} is a layer object that comes earlier in the model too; "
                             "training needs a layer object of its own at each position")
        head, fused = self._head(loss)
        X, n_outputs = self._as_input(X)
        target = loss.prepare_target(y, n_outputs, self.dtype)
        if len(target) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(target)}")
        if not len(X):
            raise ValueError("X has no samples to train on")
        step = TrainingStep(head, loss, fused, optimizer, X, target)
        history = History()
        self.stop_training = False
        for epoch in range(initial_epoch, epochs):
            logs = {"epoch": epoch + 1, "train_loss": step.epoch(batch_size, rng)}
            if validation is not None:
                logs["val_loss"] = self.evaluate(*validation, loss)
            for callback in callbacks:
                callback(self, logs)
            history.append(logs)
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}", *(f"{k} {v:.4f}" for k, v in logs.items() if k.endswith("loss")),
                      sep="  ", flush=True)
            if self.stop_training:
                break
        return history

    def get_config(self) -> list[dict[str, Any]]:
        """The architecture: one ``{"type": name, **settings}`` per layer."""
        return [{"type": layer.name, **layer.get_config()} for layer in self.layers]

    def save(self, file: str | IO[bytes]) -> None:
        """Write the weights and the architecture as an ``.npz`` archive (see README)."""
        arrays = {key: param for key, param, _ in self.parameters()}
        np.savez(file, architecture=np.array(json.dumps(self.get_config())), **arrays)

    @classmethod
    def load(cls, file: str | IO[bytes]) -> "Model":
        """Read a model written by ``save``; raises ValueError if anything is missing or misshapen."""
        if isinstance(file, (str, os.PathLike)) and os.path.isfile(file) and not zipfile.is_zipfile(file):
            # np.load would take other bytes for a pickle, and refuse them as one
            raise ValueError("not an .npz archive (a model saved by nnfw is a zip of arrays)")
        with np.load(file, allow_pickle=False) as archive:
            if "architecture" not in archive.files:
                raise ValueError("no 'architecture' array: not a model saved by nnfw")
            arrays = {name: archive[name] for name in archive.files}
        try:
            config = json.loads(str(arrays.pop("architecture")))
            model = cls(layer_from_config(entry) for entry in config)
        except (ValueError, TypeError, KeyError, AttributeError, MemoryError) as exc:
            raise ValueError(f"the architecture cannot be read: {exc}") from None
        model.set_weights(arrays)
        for key, param, _ in model.parameters():
            if not np.all(np.isfinite(param)):
                raise ValueError(f"array {key!r} holds NaN or infinite values (saved from a run that diverged?)")
        return model
