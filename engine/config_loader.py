"""Turn a parsed TOML table into frozen dataclasses, with errors a person can act on.

The dataclasses in :mod:`engine.settings` are the schema: their fields are the
known keys, their annotations the types. Unknown keys are refused with the closest
known one suggested, so a typo never silently falls back to a default. A field whose
metadata says ``retired`` is a key that no longer does anything: old files that hold
it still load.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from engine.errors import ConfigError

T = TypeVar("T")

_TYPE_WORDS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    date: "a date (YYYY-MM-DD)",
    datetime: "a date and time (YYYY-MM-DDTHH:MM:SSZ)",
    time: "a time (HH:MM)",
}


def read_toml(path: Path) -> dict[str, Any]:
    """Parse the TOML file at ``path``; a syntax error names its line."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"malformed TOML: {error}", path=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", path=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", path=str(path)) from None


_HINTS: dict[type, dict[str, Any]] = {}


def _type_hints(cls: type) -> dict[str, Any]:
    """The field types of a settings class, read once: a config of a thousand ``[[phones]]``
    tables builds a thousand of them, and reading the hints was most of each."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def load_dataclass(cls: type[T], data: Any, *, path: str, key: str = "") -> T:
    """Build ``cls`` from the table ``data``; ``key`` is where it sits, for messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table, got {_describe(data)}", path=path, key=key or None)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("from_file", True)}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            raise ConfigError(
                _unknown_key_message(name, list(fields)), path=path, key=_join(key, name)
            )
    hints = _type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if spec.metadata.get("retired"):
            continue  # a key old files may still hold: accepted, never used
        if name in data:
            values[name] = _convert(hints[name], data[name], path=path, key=_join(key, name))
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError("is required", path=path, key=_join(key, name))
    return cls(**values)


def _convert(annotation: Any, value: Any, *, path: str, key: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, path=path, key=key)
        raise TypeError(f"unsupported union {annotation}")  # a schema bug, not user input
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"expected a list, got {_describe(value)}", path=path, key=key)
        item_type = args[0]
        return tuple(
            _convert(item_type, item, path=path, key=f"{key}[{index}]")
            for index, item in enumerate(value)
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"expected a table, got {_describe(value)}", path=path, key=key)
        return {
            name: _convert(args[1], item, path=path, key=_join(key, name))
            for name, item in value.items()
        }
    if dataclasses.is_dataclass(annotation):
        return load_dataclass(annotation, value, path=path, key=key)  # type: ignore[arg-type]
    return _scalar(annotation, value, path=path, key=key)


def _scalar(annotation: Any, value: Any, *, path: str, key: str) -> Any:
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is date and isinstance(value, datetime):
        raise ConfigError(f"expected {_TYPE_WORDS[date]}, got {value}", path=path, key=key)
    if annotation in _TYPE_WORDS and _matches(annotation, value):
        return value
    if annotation in _TYPE_WORDS:
        raise ConfigError(
            f"expected {_TYPE_WORDS[annotation]}, got {_describe(value)}", path=path, key=key
        )
    raise TypeError(f"unsupported setting type {annotation}")


def _matches(annotation: type, value: Any) -> bool:
    if annotation in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, annotation)


def _unknown_key_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
    return f"unknown key {name!r}{hint}"


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    kind = kinds.get(type(value))
    if kind is not None:
        return f"{kind} ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
