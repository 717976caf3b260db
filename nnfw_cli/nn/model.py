"""Model: a stack of layers with fit, predict, save and load."""

from __future__ import annotations

import functools
import json
from typing import IO, Any, Callable, Iterable, Sequence

import numpy as np

from . import _aligned
from .layers import Layer, _features_major, layer_from_config
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
        self._flat: tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """A copy or a pickle gets its layers' parameters as arrays of their own: it packs them
        into flat buffers of its own when it first trains."""
        return {**self.__dict__, "_flat": None}

    def add(self, layer: Layer) -> "Model":
        """Append ``layer``; returns the model so that calls can be chained."""
        self.layers.append(layer)
        self._flat = None
        return self

    # -- parameters -------------------------------------------------------------------------

    def parameters(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(key, param, grad)`` for every parameter, keyed ``"{layer_index}.{name}"``."""
        return [
            (f"{i}.{name}", param, layer.grads[name])
            for i, layer in enumerate(self.layers)
            for name, param in layer.params.items()
        ]

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0][1].dtype if params else np.dtype(np.float64)

    def astype(self, dtype: Any) -> "Model":
        """Convert every parameter to ``dtype`` (for example float32 for speed) in place."""
        for layer in self.layers:
            layer.params = {k: v.astype(dtype) for k, v in layer.params.items()}
            layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
        self._flat = None
        return self

    def _packed(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """All parameters (and gradients) as views into one flat array each.

        The optimizer then updates one long vector per step instead of one small array per
        parameter: a handful of numpy calls whatever the depth of the network. Packed again
        (with their current values) when a layer's parameter or gradient is no longer the view
        it was given, as after ``layer.params["weight"] = new_array``.
        """
        entries = self.parameters()
        if not entries:
            return [], []
        if not self._packs(entries):
            arrays = [p for _, p, _ in entries]
            params = _aligned.empty(sum(p.size for p in arrays), np.result_type(*arrays))
            np.concatenate([p.ravel() for p in arrays], out=params)
            grads = _aligned.zeros_like(params)
            offset = 0
            for layer in self.layers:
                for name, value in layer.params.items():
                    size = value.size
                    layer.params[name] = params[offset : offset + size].reshape(value.shape)
                    layer.grads[name] = grads[offset : offset + size].reshape(value.shape)
                    offset += size
            self._flat = (params, grads, [(param, grad) for _, param, grad in self.parameters()])
        return [self._flat[0]], [self._flat[1]]

    def _packs(self, entries: list[tuple[str, np.ndarray, np.ndarray]]) -> bool:
        """Whether every parameter and gradient in ``entries`` is still a view into the flat arrays."""
        views = self._flat[2] if self._flat is not None else []
        return len(views) == len(entries) and all(
            param is view and grad is grad_view for (_, param, grad), (view, grad_view) in zip(entries, views)
        )

    # -- computation ------------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False, layers: Sequence[Layer] | None = None) -> np.ndarray:
        """Run ``x`` (n_samples, n_features) through the layers."""
        for layer in self.layers if layers is None else layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray, layers: Sequence[Layer] | None = None,
                 input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``grad`` (of the loss wrt the output); returns the input gradient.

        With ``input_grad=False`` the first layer may skip it (training needs only the
        parameter gradients) and None may be returned.
        """
        layers = self.layers if layers is None else layers
        for index in range(len(layers) - 1, -1, -1):
            grad = layers[index].backward(grad, input_grad=input_grad or index > 0)
        return grad

    def predict(self, X: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """The network's output for ``X`` (probabilities for a classifier), ``(n_samples, n_outputs)``."""
        X, _ = self._as_input(X)
        parts = [self.forward(X[i : i + batch_size]) for i in range(0, max(len(X), 1), batch_size)]
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])

    def evaluate(self, X: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """The mean loss over ``(X, y)``, computed from logits where the loss allows it."""
        head, fused = self._head(loss)
        out = self.forward(self._as_input(X)[0], layers=head)
        return loss(loss.prepare_target(y, out.shape[1], out.dtype), out, from_logits=fused)

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
        return X, self._output_width(X.shape[1])

    # -- training ---------------------------------------------------------------------------

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        loss: Loss,
        optimizer: Optimizer,
        epochs: int = 1,
        batch_size: int | None = None,
        seed: np.random.Generator | int | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        callbacks: Sequence[Callback] = (),
        initial_epoch: int = 0,
    ) -> History:
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns one log per epoch.

        Args:
            batch_size: ``None`` for full-batch gradient descent; otherwise mini-batches of this
                size, shuffled each epoch with ``seed`` (a Generator, used as it is, or a seed).
            validation: ``(X_val, y_val)``, scored with the loss after every epoch as ``val_loss``.
            callbacks: called as ``callback(model, logs)`` after every epoch; they may add
                entries to ``logs`` or set ``model.stop_training = True``.
            initial_epoch: epochs already done (to resume a run).
        """
        _check_count("epochs", epochs, 0)
        _check_count("initial_epoch", initial_epoch, 0)
        if batch_size is not None:
            _check_count("batch_size", batch_size, 1)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        repeated = [i for i, layer in enumerate(self.layers) if any(layer is other for other in self.layers[:i])]
        if repeated:
            raise ValueError(f"layer {repeated[0]} is a layer object that comes earlier in the model too; "
                             "training needs a layer object of its own at each position")
        head, fused = self._head(loss)
        X, n_outputs = self._as_input(X)
        X = np.ascontiguousarray(X)
        target = loss.prepare_target(y, n_outputs, self.dtype)
        if len(target) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(target)}")
        if not len(X):
            raise ValueError("X has no samples to train on")
        params, grads = self._packed()
        step = _Stepper(head, fused, loss, optimizer, params, grads, X, target, n_outputs)
        history = History()
        self.stop_training = False
        for epoch in range(initial_epoch, epochs):
            logs = {"epoch": epoch + 1, "train_loss": step.epoch(batch_size, rng)}
            if validation is not None:
                logs["val_loss"] = self.evaluate(*validation, loss)
            for callback in callbacks:
                callback(self, logs)
            history.append(logs)
            if self.stop_training:
                break
        return history

    def _output_width(self, in_features: int) -> int:
        for layer in self.layers:
            in_features = layer.output_width(in_features)
        return in_features

    # -- persistence ------------------------------------------------------------------------

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
        if _not_a_zip(file):  # np.load would take any other bytes for a pickle, and refuse it as one
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
        model._assign(arrays)
        for key, param, _ in model.parameters():
            if not np.all(np.isfinite(param)):
                raise ValueError(f"array {key!r} holds NaN or infinite values (saved from a run that diverged?)")
        return model

    def _assign(self, arrays: dict[str, np.ndarray]) -> None:
        expected = {key: param for key, param, _ in self.parameters()}
        missing = sorted(set(expected) - set(arrays))
        unexpected = sorted(set(arrays) - set(expected))
        if missing or unexpected:
            raise ValueError(f"arrays do not match the architecture (missing {missing}, unexpected {unexpected})")
        for key, param in expected.items():
            if arrays[key].shape != param.shape:
                raise ValueError(f"array {key!r} has shape {arrays[key].shape}, the architecture needs {param.shape}")
            if arrays[key].dtype.kind != "f":
                raise ValueError(f"array {key!r} has dtype {arrays[key].dtype}, expected floating point")
        dtype = arrays[next(iter(expected))].dtype if expected else np.float64
        self.astype(dtype)
        for key, param, _ in self.parameters():
            param[...] = arrays[key]


def _check_count(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}. Received: {name}={value!r}")


def _step_plan(layers: Sequence[Layer]) -> tuple[list[dict], list[dict]]:
    """Keyword arguments for each layer's ``forward`` and ``backward`` in a training step, whose
    batches come followed by a column of ones (see layers.py):

    - ``overwrite``: forward, when the layer before returned a scratch buffer (never the batch);
      backward, when the gradient comes from the loss (the step owns that buffer) or is a scratch
      buffer of the layer after;
    - ``ones_in``: the input is followed by a column of ones: the batch, the output of a layer
      asked for ``ones_out``, or that output overwritten in place;
    - ``ones_out``: asked of a layer whose output reaches, directly or through layers that
      overwrite in place, a layer that takes ones.
    """
    last = len(layers) - 1
    overwrite_in = [layer.can_overwrite and index > 0 and layers[index - 1].scratch_results
                    for index, layer in enumerate(layers)]
    forward: list[dict] = [{"overwrite": True} if flag else {} for flag in overwrite_in]
    backward = [{"overwrite": True} if layer.can_overwrite and (index == last or layers[index + 1].scratch_results)
                else {} for index, layer in enumerate(layers)]
    ones = True  # the batch comes with its column of ones
    for index, layer in enumerate(layers):
        if ones and layer.takes_ones:
            forward[index]["ones_in"] = True
        after = index + 1
        while after <= last and overwrite_in[after]:  # overwriting in place keeps the column after x
            after += 1
        if layer.gives_ones and after <= last and layers[after].takes_ones:
            forward[index]["ones_out"] = ones = True
        else:
            ones = ones and overwrite_in[index]
    return forward, backward


def _not_a_zip(file: str | IO[bytes]) -> bool:
    """Whether ``file`` (a path or a seekable binary file) holds bytes that are not a zip archive.

    A path that is not a regular file is left for ``np.load`` to report; a file object is rewound.
    """
    import os
    import zipfile

    if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
        return os.path.isfile(file) and not zipfile.is_zipfile(file)
    position = file.tell()
    try:
        return not zipfile.is_zipfile(file)
    finally:
        file.seek(position)


class _Stepper:
    """One training step, with its batch buffers allocated once and reused."""

    def __init__(self, head, fused, loss, optimizer, params, grads, X, target, width):
        self.fused, self.loss = fused, loss
        self.optimizer, self.params, self.grads = optimizer, params, grads
        self.X, self.target = X, target  # samples-major and C-contiguous: a batch is whole rows
        self.n, self.width = len(X), width  # the width of the loss gradient
        self._full_batch: np.ndarray | None = None
        self._batch: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._grads: dict[int, np.ndarray] = {}
        # Each layer's forward and backward with the step plan's options bound, backward last layer first
        forward, backward = _step_plan(head)
        self.forwards = [functools.partial(layer.forward, **options) for layer, options in zip(head, forward)]
        self.backwards = [functools.partial(layer.backward, input_grad=index > 0, **options)
                          for index, (layer, options) in reversed(list(enumerate(zip(head, backward))))]
        # for a loss that returns a gradient other than the buffer it was given: not overwritten
        self.backwards_kept = self.backwards[:]
        if head:
            kept = {key: value for key, value in backward[-1].items() if key != "overwrite"}
            self.backwards_kept[0] = functools.partial(head[-1].backward, input_grad=len(head) > 1, **kept)

    def epoch(self, batch_size: int | None, rng: np.random.Generator) -> float:
        if batch_size is None or batch_size >= self.n:
            if self._full_batch is None:  # features-major (BLAS multiplies thin layers much faster), then ones
                self._full_batch = _features_major(self.n, self.X.shape[1], self.X.dtype, ones=True)
                self._full_batch[...] = self.X
            return self.run(self._full_batch, self.target, self._grad_buffer(self.n))
        order = rng.permutation(self.n)
        total = 0.0
        for start in range(0, self.n, batch_size):
            idx = order[start : start + batch_size]
            total += self.run(*self._gather(idx)) * len(idx)
        return total / self.n

    def run(self, x: np.ndarray, y: np.ndarray, grad_out: np.ndarray) -> float:
        for forward in self.forwards:
            x = forward(x, True)
        grad_out = grad_out[: len(x)]
        value, grad = self.loss.value_and_grad(y, x, from_logits=self.fused, out=grad_out)
        for backward in self.backwards if grad is grad_out else self.backwards_kept:
            grad = backward(grad)
        self.optimizer.step(self.params, self.grads)
        return value

    def _gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, width = len(idx), self.X.shape[1]
        if n not in self._batch:
            with_ones = _aligned.empty((n, width + 1), self.X.dtype)  # rows followed by a column of ones
            with_ones[:, -1] = 1.0
            self._batch[n] = (with_ones[:, :-1], _aligned.empty((n, width), self.X.dtype),
                              _aligned.empty((n, *self.target.shape[1:]), self.target.dtype))
        x, rows, y = self._batch[n]
        # np.take copies into a temporary array unless ``out`` is contiguous and the mode is not
        # "raise"; the indices come from a permutation of range(n), so "clip" never clips
        np.take(self.X, idx, axis=0, out=rows, mode="clip")
        np.copyto(x, rows)
        np.take(self.target, idx, axis=0, out=y, mode="clip")
        return x, y, self._grad_buffer(n)

    def _grad_buffer(self, n: int) -> np.ndarray:
        """The loss gradient for ``n`` samples, features-major like the layers' outputs."""
        if n not in self._grads:
            self._grads[n] = _aligned.empty((self.width, n), self.X.dtype).T
        return self._grads[n]
