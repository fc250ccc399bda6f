"""The shapes of TimelinesAI's data: answers' ``data`` into models, arguments into queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def one(model: type[M]) -> Callable[[Any], M]:
    """A single model read from ``data``."""
    return model.model_validate


def many(model: type[M], key: str) -> Callable[[Any], list[M]]:
    """A list found either as ``data`` itself or as ``data[key]``."""

    def parse(data: Any) -> list[M]:
        items = data if isinstance(data, list) else data[key]
        if not isinstance(items, list):
            raise TypeError(f"{key} is not a list")
        return [model.model_validate(item) for item in items]

    return parse


def page(model: type[M], key: str) -> Callable[[Any], tuple[bool, list[M]]]:
    """One page: whether more follow (``has_more_pages``) and its items under ``key``."""
    items = many(model, key)

    def parse(data: Any) -> tuple[bool, list[M]]:
        has_more = bool(data.get("has_more_pages")) if isinstance(data, dict) else False
        return has_more, items(data)

    return parse


def query(**values: str | int | bool | datetime | Sequence[str] | None) -> dict[str, str | int]:
    """Query parameters without the unset ones, in the forms TimelinesAI reads."""
    params: dict[str, str | int] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            params[name] = value.isoformat()
        elif isinstance(value, str | int):
            params[name] = value
        else:
            params[name] = ",".join(value)
    return params
