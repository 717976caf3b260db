"""The ``--set`` path language: ``key.path[0].name=value``, the value read as YAML.

The YAML of values and of whole config files is read by ``load_yaml``: safe tags only, no key
given twice in a mapping, at most ``MAX_DEPTH`` levels of nesting and whole numbers short
enough to print.

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
import sys
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, SequenceNode
from yaml.resolver import Resolver

from .errors import ConfigError

try:  # libyaml's parser, when PyYAML was built with it: several times faster than the Python one
    from yaml.cyaml import CParser as _FastParser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _FastParser = None

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
        return load_yaml(text)[0] if text.strip() else None
    except YAMLLimitError as exc:
        raise ConfigError(f"--set {item}: {exc.problem}") from None
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


# -- reading YAML -----------------------------------------------------------------------------

MAX_DEPTH = 100  # nodes one inside another, the value at the end counted; a config needs 5 (model.layers[0].units)
MAX_VALUES = 100_000  # values a document may hold once its aliases are expanded; a config holds a hundred
# Whole numbers longer than Python prints (4300 digits unless the interpreter was told otherwise).
MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)() or 4300
_MAX_BITS = int(MAX_DIGITS * 3.3219)  # log2(10): fewer bits than that always print
_MERGE = "tag:yaml.org,2002:merge"


class YAMLLimitError(yaml.MarkedYAMLError):
    """Valid YAML that nnfw will not read: nested too deep, or a number too long."""


class _Checks(Composer, SafeConstructor, Resolver):
    """PyYAML's composer and safe constructor, with nnfw's limits and no duplicate keys.

    The composer is PyYAML's Python one even over libyaml's parser: it recurses once per level,
    so it can stop at MAX_DEPTH, where libyaml's would exhaust the C stack.
    """

    def __init__(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YAMLLimitError(problem=f"nested more than {MAX_DEPTH} levels deep",
                                     problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def check_size(self, root: Any) -> None:
        """A YAMLLimitError if the document holds more than MAX_VALUES values once its aliases are
        expanded (ten lists of ten aliases of the list before, six deep, make a million), or an
        alias inside itself: nnfw would copy and check each of them."""
        sizes: dict[int, tuple[int, int]] = {}  # a node's values, and its levels, aliases expanded
        inside: set[int] = set()

        def size(node: Any) -> tuple[int, int]:
            if id(node) in sizes:
                return sizes[id(node)]
            if id(node) in inside:
                raise YAMLLimitError(problem="an alias inside itself", problem_mark=node.start_mark)
            inside.add(id(node))
            children = [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else \
                node.value if isinstance(node, SequenceNode) else []
            total, levels = 1, 1
            for child in children:
                count, below = size(child)
                total, levels = total + count, max(levels, below + 1)
                if total > MAX_VALUES:
                    raise YAMLLimitError(problem=f"more than {MAX_VALUES:,} values once its aliases (*name) are "
                                                 "expanded", problem_mark=node.start_mark)
                if levels > MAX_DEPTH:
                    raise YAMLLimitError(problem=f"nested more than {MAX_DEPTH} levels deep once its aliases (*name) "
                                                 "are expanded", problem_mark=node.start_mark)
            inside.discard(id(node))
            sizes[id(node)] = total, levels
            return total, levels

        size(root)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:  # `<<: *base`: the mapping's own keys may override those
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the constructor reports it
                    continue
                if first is not key_node:
                    mark = first.start_mark
                    raise ConstructorError(problem=f"duplicate key {key!r} (first at line {mark.line + 1}, "
                                                   f"column {mark.column + 1})", problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: Any) -> int:
        digits = len(node.value.lstrip("+-").replace("_", ""))
        if digits > MAX_DIGITS:  # refused before converting: int() of it raises, or (1:0:0:...) takes long
            self._too_long(node, f"{digits} digits")
        value = super().construct_yaml_int(node)
        if value.bit_length() > _MAX_BITS:  # 0x... with fewer digits than decimal needs
            self._too_long(node, f"more than {MAX_DIGITS} digits")
        return value

    @staticmethod
    def _too_long(node: Any, size: str) -> None:
        raise YAMLLimitError(problem=f"a whole number of {size}; at most {MAX_DIGITS} digits can be read",
                             problem_mark=node.start_mark)


_Checks.add_constructor("tag:yaml.org,2002:int", _Checks.construct_yaml_int)


class _PythonLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _Checks):
    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Checks.__init__(self)


if _FastParser is not None:
    class _FastLoader(_Checks, _FastParser):  # _Checks first: its composer, not libyaml's
        def __init__(self, text: str) -> None:
            _FastParser.__init__(self, text)
            _Checks.__init__(self)


def _load(loader_class: type, text: str) -> tuple[Any, yaml.Node | None]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            loader.check_size(root)
        return (loader.construct_document(root) if root is not None else None), root
    finally:
        loader.dispose()


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """``text`` as plain data, and its node tree (for positions); None for an empty document.

    Raises yaml.YAMLError (with a ``problem`` and a ``problem_mark``) for text that is not valid
    YAML or gives a key twice, and its subclass YAMLLimitError for valid YAML beyond the limits.
    """
    if _FastParser is None:
        return _load(_PythonLoader, text)
    try:
        return _load(_FastLoader, text)
    except YAMLLimitError:
        raise
    except yaml.YAMLError as fast_error:
        if len(text) > 65_536:
            raise
        try:  # PyYAML's own parser says what is wrong in more words: "found character '\t' ..."
            _load(_PythonLoader, text)
        except yaml.YAMLError as error:
            raise error from None
        raise fast_error
