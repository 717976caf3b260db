"""Optimizers: they see only a list of parameters and their gradients, never a layer.

``step(params, grads)`` updates each array of ``params`` in place from the matching gradient.
State (momentum, moments) is kept per position in that list; ``state_dict()`` and
``load_state_dict()`` save and restore it, so that a run resumes exactly.
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

# Adam's moments of a parameter whose gradient stays 0 (a dead ReLU unit) decay into subnormal
# numbers, on which arithmetic is many times slower: every this many steps they are set to 0,
# a change far below the rounding of any parameter they move.
FLUSH_EVERY = 16


class Optimizer:
    """Base class. ``weight_decay`` adds ``weight_decay * param`` to each gradient (L2)."""

    name: ClassVar[str] = "optimizer"

    def __init__(self, learning_rate: float = 0.01, weight_decay: float = 0.0) -> None:
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number. Received: learning_rate={learning_rate}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={weight_decay}")
        self.learning_rate, self.weight_decay = float(learning_rate), float(weight_decay)
        self.state: dict[str, list[np.ndarray]] = {}  # slot name -> one array per parameter
        self.iterations = 0
        self._scratch: list[np.ndarray] = []  # work arrays, one per parameter
        self._decayed: list[np.ndarray] = []

    def slots(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays."""
        return ()

    def allocate(self, params: Sequence[np.ndarray], zeros_like: Callable = np.zeros_like) -> None:
        """Make the state and work arrays for ``params`` (done at the first step unless called
        before, as the training step does to place them), keeping the values of a loaded state."""
        for key in self.slots():
            for i, (param, old) in enumerate(zip(params, self.state.get(key, []))):
                self._check_shape(i, old, param)
            kept, self.state[key] = self.state.get(key, []), [zeros_like(p) for p in params]
            for new, old in zip(self.state[key], kept):
                new[...] = old
        self._scratch = [zeros_like(p) for p in params]
        self._decayed = [zeros_like(p) for p in params] if self.weight_decay else []

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if len(self._scratch) != len(params):
            self.allocate(params)
        for i, (param, scratch) in enumerate(zip(params, self._scratch)):
            self._check_shape(i, scratch, param)
        self.iterations += 1
        for i, (param, grad) in enumerate(zip(params, grads)):
            if self.weight_decay:  # grad + weight_decay * param, leaving the caller's grad as it is
                np.multiply(param, self.weight_decay, out=self._decayed[i])
                grad = np.add(grad, self._decayed[i], out=self._decayed[i])
            self.update(i, param, grad, self._scratch[i])

    def update(self, i: int, param: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> None:
        """Update parameter ``i`` in place; ``scratch`` is a work array of its shape."""
        raise NotImplementedError

    def _check_shape(self, i: int, state: np.ndarray, param: np.ndarray) -> None:
        if param.shape != state.shape:
            raise ValueError(f"{type(self).__name__} holds state for a parameter of shape {state.shape} at position "
                             f"{i}, and was given one of shape {param.shape}: use a new optimizer for another model")

    def state_dict(self) -> dict[str, np.ndarray]:
        arrays = {f"{key}.{i}": a.copy() for key, values in self.state.items() for i, a in enumerate(values)}
        return {"iterations": np.array(self.iterations), **arrays}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.iterations = int(state["iterations"])
        for key in self.slots():
            count = sum(1 for name in state if name.startswith(key + "."))
            if self.iterations and not count:
                raise ValueError(f"the state of {type(self).__name__} after {self.iterations} steps has no {key!r}")
            self.state[key] = [np.array(state[f"{key}.{i}"]) for i in range(count)]
        self._scratch = []  # made again, with the state's values, at the next step

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum, as in PyTorch:
    ``v = momentum * v + grad; param -= learning_rate * v``."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1). Received: momentum={momentum}")
        self.momentum = float(momentum)

    def slots(self) -> tuple[str, ...]:
        return ("velocity",) if self.momentum else ()

    def update(self, i, param, grad, scratch):
        if self.momentum:
            velocity = self.state["velocity"][i]
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        np.multiply(grad, self.learning_rate, out=scratch)
        param -= scratch

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


class Momentum(SGD):
    """SGD with momentum 0.9 unless told otherwise."""

    name = "momentum"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, momentum, weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with the bias corrections written as in PyTorch:
    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
    ``param -= lr / (1 - b1**t) * m / (sqrt(v / (1 - b2**t)) + eps)``.

    The state holds the moments as decaying sums, ``m_sum = m / (1 - b1)`` and
    ``v_sum = v / (1 - b2)`` (``m_sum = b1 m_sum + g``): the same steps, two passes fewer.
    """

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        for label, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{label} must be in [0, 1). Received: {label}={beta}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0. Received: epsilon={epsilon}")
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def slots(self) -> tuple[str, ...]:
        return ("m_sum", "v_sum")

    def update(self, i, param, grad, scratch):
        m_sum, v_sum, t = self.state["m_sum"][i], self.state["v_sum"][i], self.iterations
        m_sum *= self.beta1
        m_sum += grad
        np.multiply(grad, grad, out=scratch)
        v_sum *= self.beta2
        v_sum += scratch
        if t % FLUSH_EVERY == 0:
            _flush_subnormals(m_sum, scratch)
            _flush_subnormals(v_sum, scratch)
        # sqrt(v / (1 - b2**t)) + eps = root * (sqrt(v_sum) + eps / root), root = sqrt((1 - b2) / (1 - b2**t)).
        # Python floats keep float32 arrays in float32.
        root = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**t))
        np.sqrt(v_sum, out=scratch)
        scratch += self.epsilon / root
        np.divide(m_sum, scratch, out=scratch)
        scratch *= self.learning_rate * (1.0 - self.beta1) / ((1.0 - self.beta1**t) * root)
        param -= scratch

    def get_config(self):
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}


def _flush_subnormals(a: np.ndarray, scratch: np.ndarray) -> None:
    """Zero the entries of ``a`` smaller in magnitude than the smallest normal float."""
    np.abs(a, out=scratch)
    np.greater_equal(scratch, np.finfo(a.dtype).smallest_normal, out=scratch)  # 0.0 where subnormal
    a *= scratch


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Adam)}
