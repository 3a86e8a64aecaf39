"""Config validation derived from the code the config configures.

Every node with a ``_target_`` is checked against that target's constructor: its keys against
the parameter names (following ``**kwargs`` into base classes), its values against the
parameter annotations, ranges included (``seqvision.constraints``: ``PositiveInt``,
``Probability``, ...). Nodes without a target are checked against the dataclass that describes
them (``seqvision.config``). So a typo anywhere, on the command line or inside a YAML file, is
refused before any data is read, and a constructor that gains an argument needs no second edit.

The annotations are checked with pydantic in strict mode (``yes`` is not a bool, ``1.5`` not an
int); the messages are ours: ``<key>=<value> is out of range; valid: <range>; e.g. <fix>``.
Third-party constructors that annotate a value more loosely than they accept it (Lightning's
``accelerator: str``) get their rule from the library's own registry in ``seqvision.config``.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields, is_dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from omegaconf import DictConfig, ListConfig, OmegaConf

from seqvision.errors import ConfigError

EMPTY = inspect.Parameter.empty


class Target:
    """Marks a config field that is a node with a ``_target_`` (checked against its signature)."""


class Targets:
    """Marks a group of named target nodes (``callbacks``, ``logger``); null disables one."""


# -- reading signatures -----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def signature_of(target: Any) -> tuple[dict[str, tuple[Any, Any]], bool]:
    """``({name: (annotation, default)}, takes_any_keyword)`` of a callable or class.

    For one of our classes, ``**kwargs`` of an ``__init__`` are followed into the next base
    class's ``__init__`` (a data module passes its options on to ``ImageDataModule``); a library
    class's ``**kwargs`` are taken as open (they may go to ``wandb.init`` or ``SummaryWriter``).
    """
    params: dict[str, tuple[Any, Any]] = {}
    functions = [c.__init__ for c in inspect.getmro(target) if "__init__" in vars(c)] if inspect.isclass(target) else [target]
    for fn in functions:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return params, True
        hints = _hints(fn)
        for name, p in sig.parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in params:
                continue
            params[name] = (hints.get(name, p.annotation), p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return params, False
        if not getattr(fn, "__module__", "").startswith("seqvision."):
            return params, True  # a library's **kwargs may go anywhere (wandb.init, SummaryWriter)
    return params, True


def _hints(fn) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # an annotation that names something not importable here: check keys only
        return {}


# -- describing and checking values -------------------------------------------------------------

def _split(annotation: Any) -> tuple[Any, list]:
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        return base, meta
    return annotation, []


def _is_union(tp: Any) -> bool:
    import types

    return get_origin(tp) in (Union, types.UnionType)


def describe(annotation: Any) -> str:
    """The valid values in words: ``an integer >= 1``, ``a number in [0, 1)``, ``step or epoch``."""
    base, meta = _split(annotation)
    if _is_union(base) or get_origin(base) is Literal or base is bool:
        words = _choices(base)
        if words is not None:
            return _join(words)
    if _is_union(base):
        parts = [describe(a) for a in get_args(base) if a is not type(None) and describe(a)]
        nullable = type(None) in get_args(base)
        text = _join(parts) if parts else "a value"
        return f"{text}, or null" if nullable else text
    predicates = [m for m in meta if type(m).__name__ == "Predicate"]
    if predicates and not [m for m in meta if m not in predicates]:  # the predicate says it all
        return (predicates[0].func.__doc__ or predicates[0].func.__name__).strip()
    words = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(base)
    if words is None:
        origin = get_origin(base)
        if origin in (list, tuple, Sequence) or base in (list, tuple):
            inner = [describe(a) for a in get_args(base) if a is not Ellipsis]
            return f"a list of {inner[0]}s".replace("a list of an ", "a list of ").replace("a list of a ", "a list of ") if inner else "a list"
        if origin in (dict, Mapping) or base is dict:
            return "a mapping"
        if base is Any or base is EMPTY:
            return ""
        return ""  # a class: not something a config file can hold
    return words + "".join(_range_words(m, base) for m in meta)


def _choices(tp: Any) -> list[str] | None:
    """Literal values (and true/false) as words, or None when ``tp`` has other alternatives."""
    out = []
    for arg in (get_args(tp) if _is_union(tp) else (tp,)):
        arg, _ = _split(arg)
        if arg is bool:
            out += ["true", "false"]
        elif get_origin(arg) is Literal:
            out += ["null" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in get_args(arg)]
        elif arg is type(None):
            out.append("null")
        else:
            return None
    return out


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _range_words(meta: Any, base: Any) -> str:
    import annotated_types as at

    if isinstance(meta, at.Interval):
        lo = "[" if meta.ge is not None else "(" if meta.gt is not None else None
        hi = "]" if meta.le is not None else ")" if meta.lt is not None else None
        if lo and hi:
            a = meta.ge if meta.ge is not None else meta.gt
            b = meta.le if meta.le is not None else meta.lt
            return f" in {lo}{a}, {b}{hi}"
        return "".join(_range_words(m, base) for m in meta)
    if isinstance(meta, at.Ge):
        return f" >= {meta.ge}"
    if isinstance(meta, at.Gt):
        return f" >= {meta.gt + 1}" if base is int else f" > {meta.gt}"
    if isinstance(meta, at.Le):
        return f" <= {meta.le}"
    if isinstance(meta, at.Lt):
        return f" < {meta.lt}"
    if isinstance(meta, at.Predicate):
        return f": {(meta.func.__doc__ or meta.func.__name__).strip()}"
    return ""


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "predicate_failed",
                "literal_error", "too_short", "too_long", "multiple_of")


def value_problem(key: str, value: Any, annotation: Any, example: Any = None) -> str | None:
    """One line if ``value`` does not fit ``annotation``, else None."""
    if annotation is EMPTY or annotation is Any:
        return None
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    try:
        adapter = TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # an annotation pydantic cannot turn into a check: keys only
        return None
    value = _plain(value)
    errors = None
    for candidate in (value, _tuples(value)):
        try:
            adapter.validate_python(candidate, strict=True)
            return None
        except ValidationError as err:
            errors = errors or err.errors()
    valid = describe(annotation) or "see the constructor's documentation"
    base, _ = _split(annotation)
    choices = _choices(_strip_ranges(base))
    if choices is not None:
        what = "is not one of the choices"
        example = example if example not in (None, EMPTY) else next((c for c in choices if c != "null"), None)
    elif any(e["type"] in RANGE_ERRORS for e in errors) and _type_fits(value, base):
        what = "is not valid" if isinstance(value, str) else "is out of range"
    else:
        what = f"is not {_type_words(base) or 'valid'}"
    if example in (None, EMPTY):
        example = _example(adapter)
    hint = f"{key}={_show(example)}" if example not in (None, EMPTY) else f"{key}=<{valid}>"
    return f"{key}={value!r} {what}; valid: {valid}; e.g. {hint}"


def _example(adapter) -> Any:
    """A simple value the annotation accepts, for the ``e.g.`` of a message."""
    for candidate in (1, 0, 0.1, 0.5, True, "auto"):
        try:
            adapter.validate_python(candidate, strict=True)
            return candidate
        except Exception:
            continue
    return None


def _type_fits(value: Any, base: Any) -> bool:
    """Whether ``value`` has the right type, ignoring ranges (so the message says which it is)."""
    from pydantic import ConfigDict, TypeAdapter

    try:
        TypeAdapter(_strip_ranges(base), config=ConfigDict(arbitrary_types_allowed=True)).validate_python(
            _tuples(value), strict=True)
        return True
    except Exception:
        return get_origin(base) is Literal or (_is_union(base) and _choices(base) is not None)


def _strip_ranges(tp: Any) -> Any:
    base, _ = _split(tp)
    if _is_union(base):
        return Union[tuple(_strip_ranges(a) for a in get_args(base))]
    return base


def _type_words(base: Any) -> str:
    if _is_union(base):
        if _choices(base) is not None:
            return "one of " + ", ".join(_choices(base))
        parts = [_type_words(_split(a)[0]) for a in get_args(base) if a is not type(None)]
        return _join([p for p in parts if p]) if any(parts) else ""
    if get_origin(base) is Literal:
        return "one of " + ", ".join(_choices(base) or [])
    return describe(base)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)


# -- checking nodes ---------------------------------------------------------------------------

def resolve_target(path: str, node: Any) -> Any:
    from hydra.utils import get_object

    target = node.get("_target_") if isinstance(node, DictConfig) else None
    try:
        return get_object(str(target))
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path}._target_={target!r} cannot be imported ({first}); "
                          f"e.g. choose an option of the group instead: {path.split('.')[0]}=<option>") from err


def _is_target_node(value: Any) -> bool:
    return isinstance(value, DictConfig) and "_target_" in value


def _nested_targets(value: Any) -> dict[str, DictConfig] | None:
    """A node that ``instantiate`` builds into objects: one target node, or a mapping whose values
    are target nodes (or null), such as ``augmentation.ops``. None for a plain value."""
    if _is_target_node(value):
        return {"": value}
    if isinstance(value, DictConfig) and len(value) and all(_is_target_node(v) or v is None for v in value.values()):
        return {str(k): v for k, v in value.items() if v is not None}
    return None


def target_problems(path: str, node: DictConfig, target: Any, filled: Sequence[str] = (),
                    extra: Mapping[str, Any] | None = None, name: str | None = None,
                    rules: Any = None) -> list[str]:
    """Keys of ``node`` that ``target`` does not take, values that do not fit, required keys
    left out. ``filled`` are the arguments the run driver supplies (``params``, ``net``, ...);
    ``extra`` adds annotations for parameters the target annotates too loosely. An argument that
    is itself a target node, or a mapping of them (``augmentation.ops.flip``), is checked the
    same way against its own target; ``rules(target)`` gives the ``extra`` of such a target."""
    params, open_kwargs = signature_of(target)
    extra = dict(extra or {})
    name = name or getattr(target, "__qualname__", None) or repr(target)
    keys = [str(k) for k in node.keys() if not str(k).startswith("_")]
    found = []
    allowed = [p for p in params if p not in filled]
    for key in keys:
        if key not in params:
            if not open_kwargs:
                found.append(f"{path}.{key} is not an option of {name}; valid: {', '.join(allowed) or 'none'}; "
                             f"e.g. fix the spelling, or remove it with ~{path}.{key}")
            continue
        if OmegaConf.is_interpolation(node, key):
            continue  # the value it points to is checked where it is set
        value = _select(node, key, f"{path}.{key}")
        if (children := _nested_targets(value)) is not None:
            for child, child_node in children.items():
                child_path = f"{path}.{key}" + (f".{child}" if child else "")
                child_target = resolve_target(child_path, child_node)
                found += target_problems(child_path, child_node, child_target, (),
                                         rules(child_target) if rules else None, None, rules)
            continue
        annotation, default = params[key]
        for ann in (annotation, extra.get(key, EMPTY)):
            if (problem := value_problem(f"{path}.{key}", value, ann, default)) is not None:
                found.append(problem)
                break
    partial = bool(node.get("_partial_", False))
    for key, (_, default) in params.items():
        if default is EMPTY and key not in keys and key not in filled and not partial:
            found.append(f"{path}.{key} is required by {name}; e.g. {path}.{key}=<value>")
    return found


def dataclass_problems(path: str, node: Any, spec: type, handlers: Mapping[type, Any]) -> list[str]:
    """Checks a node without ``_target_`` against the dataclass ``spec``; fields typed ``Target``
    or ``Targets`` (or another dataclass) are handed to ``handlers`` / checked recursively."""
    if node is None:
        return []
    if not isinstance(node, DictConfig):
        return [f"{path or 'the config'} must be a mapping, not {node!r}"]
    hints = typing.get_type_hints(spec, include_extras=True)
    names = {f.name: f for f in fields(spec)}
    found = []
    for key in node.keys():
        key = str(key)
        if key not in names:
            found.append(f"{_join_path(path, key)} is not a config key; valid keys{' under ' + path if path else ''}: "
                         f"{', '.join(names)}; e.g. fix the spelling, or remove it with ~{_join_path(path, key)}")
    present = {str(k) for k in node.keys()}  # not ``key in node``: it resolves interpolations
    for key, f in names.items():
        full = _join_path(path, key)
        if key not in present:
            if f.default is MISSING and f.default_factory is MISSING:
                found.append(f"{full} is required; e.g. {full}=<value>")
            continue
        kind, bare = hints[key], _optional_of(hints[key])
        handler = handlers.get(bare) if isinstance(bare, type) else None
        if handler is None and OmegaConf.is_interpolation(node, key):
            continue  # the value it points to is checked where it is set
        value = _select(node, key, full)
        if handler is not None:
            if value is not None or bare is kind:  # null is fine where the field is optional
                found += handler(full, value)
        elif is_dataclass(bare):
            found += dataclass_problems(full, value, bare, handlers)
        elif (problem := value_problem(full, value, kind, None if f.default is MISSING else f.default)) is not None:
            found.append(problem)
    return found


def _optional_of(tp: Any) -> Any:
    """``X`` for ``X | None``; anything else unchanged."""
    if _is_union(tp):
        rest = [a for a in get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _select(node: DictConfig, key: str, full: str) -> Any:
    from omegaconf.errors import MissingMandatoryValue

    try:
        return node[key]
    except MissingMandatoryValue as err:
        raise ConfigError(f"{full} is required (it is ??? in the config); e.g. {full}=<value>") from err
    except Exception as err:  # an interpolation that cannot resolve
        first = str(err).strip().splitlines()[0]
        raise ConfigError(f"{full} cannot be resolved ({first}); e.g. {full}=<value>") from err
