"""The ``--set`` path language: ``key.path[0].name=value``, the value read as YAML.

``apply_override(raw, "model.layers[0].units=32", defaults)`` changes the plain data ``raw`` (a
config as read from its file, before validation) in place. A path may go where the file says
nothing: sections start empty, and a list or a typed entry (``training.optimizer``) starts from
its value in ``defaults`` (the resolved default config), so that ``--set
training.optimizer.beta1=0.8`` sets one setting of the default optimizer. Validation happens
afterwards, on the whole config; this module knows nothing of its fields.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from .errors import ConfigError

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_FULL_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*")


def parse_path(text: str) -> tuple:
    """``model.layers[0].units`` -> ``("model", "layers", 0, "units")``."""
    if not _FULL_PATH.fullmatch(text):
        raise ConfigError(f"--set {text}: not a key path like training.epochs or model.layers[0].units")
    return tuple(m.group(1) or int(m.group(2)) for m in _PATH_PART.finditer(text))


def format_path(loc: tuple) -> str:
    """``("model", "layers", 2, "units")`` -> ``model.layers[2].units``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_value(item: str, text: str) -> Any:
    """The value of ``--set item`` (its text after ``=``), read as YAML; empty text is null."""
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item}: the value is not valid YAML: {getattr(exc, 'problem', exc)}") from None


def apply_override(raw: dict[str, Any], item: str, defaults: dict[str, Any] | None = None) -> tuple:
    """Apply ``key.path=value`` to ``raw`` in place; returns the path.

    ``defaults`` is the resolved default config as plain data (lists and typed entries that
    ``raw`` lacks start from there); raises ConfigError for a path that cannot be followed.
    """
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item}: expected KEY=VALUE, for example --set training.epochs=50")
    path = parse_path(key.strip())
    value = parse_value(item, text)
    node: Any = raw
    for depth, part in enumerate(path[:-1]):
        node = _step(node, part, path[: depth + 1], path[depth + 1], item, defaults or {})
    _assign(node, path[-1], value, item, path)
    return path


def _step(node: Any, part: Any, so_far: tuple, next_part: Any, item: str, defaults: dict[str, Any]) -> Any:
    """The child ``part`` of ``node``, made where the path needs it; ``so_far`` ends with ``part``."""
    if isinstance(part, int):
        if not isinstance(node, list):
            raise ConfigError(f"--set {item}: {format_path(so_far[:-1]) or 'the config'} is not a list")
        if part >= len(node):
            raise ConfigError(f"--set {item}: {format_path(so_far)} does not exist (the list has {len(node)} entries)")
        if isinstance(node[part], str) and not isinstance(next_part, int):
            node[part] = {"type": node[part]}  # `- relu` shorthand, now with settings
        return node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item}: {format_path(so_far[:-1])} is not a mapping")
    if node.get(part) is None:
        default = _default_at(defaults, so_far)
        if isinstance(next_part, int) and not isinstance(default, list):
            raise ConfigError(f"--set {item}: {format_path(so_far)} is not a list")
        if default is not None and not isinstance(default, (dict, list)):
            raise ConfigError(f"--set {item}: {format_path(so_far)} is not a mapping")
        # Lists and typed entries (`optimizer`) start from the default; sections start empty,
        # so that dataset-specific defaults are still chosen by the dataset.
        typed = isinstance(default, list) or isinstance(default, dict) and "type" in default
        node[part] = copy.deepcopy(default) if typed else {}
    elif isinstance(node[part], str) and not isinstance(next_part, int):
        default = _default_at(defaults, so_far)
        if not (isinstance(default, dict) and "type" in default):
            raise ConfigError(f"--set {item}: {format_path(so_far)} is not a mapping")
        node[part] = {"type": node[part]}  # `optimizer: adam` shorthand, now with settings
    return node[part]


def _default_at(defaults: Any, path: tuple) -> Any:
    """The value at ``path`` in ``defaults`` (None where there is none)."""
    node = defaults
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _assign(node: Any, part: Any, value: Any, item: str, path: tuple) -> None:
    if isinstance(part, int):
        if not isinstance(node, list):
            raise ConfigError(f"--set {item}: {format_path(path[:-1])} is not a list")
        if part >= len(node):
            raise ConfigError(f"--set {item}: {format_path(path)} does not exist (the list has {len(node)} entries)")
    elif not isinstance(node, dict):
        raise ConfigError(f"--set {item}: {format_path(path[:-1])} is not a mapping")
    node[part] = value
