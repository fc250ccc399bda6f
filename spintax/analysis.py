"""Facts about a syntax tree computed without rendering it: variants, lengths, variables.

Each function is a walk of the tree, linear in its size; the parser bounds its depth
(:data:`spintax.parser.MAX_NESTING`), so the recursion stays shallow.
"""

from __future__ import annotations

from collections.abc import Mapping

from spintax.nodes import Body, Choice

__all__ = [
    "count_variants",
    "is_blank",
    "max_length",
    "variable_positions",
]


def is_blank(value: str | None) -> bool:
    """Whether a variable's value counts as absent: missing, empty or whitespace only."""
    return not value or value.isspace()


def count_variants(body: Body) -> int:
    """The number of choice paths through ``body`` when every variable has a value.

    A choice contributes the sum of its options' counts, a sequence the product of its
    parts'. Fallbacks are never rendered when every variable has a value, so their
    choices do not count. Paths are counted, not distinct texts: ``{a|a}`` counts 2.
    """
    total = 1
    for node in body:
        if isinstance(node, Choice):
            total *= sum(count_variants(option) for option in node.options)
    return total


def max_length(
    body: Body, variables: Mapping[str, str] | None, default_variable_length: int
) -> int:
    """The length in characters of the longest rendering of ``body``.

    With ``variables``, each placeholder counts as its value's length, or as its
    fallback's longest rendering when the value is missing or blank (the caller has
    checked that required variables are present). Without, a placeholder counts as
    ``default_variable_length``, or its fallback's longest rendering if that is longer.
    The bound is exact: some choice path reaches it.
    """
    total = 0
    for node in body:
        if isinstance(node, str):
            total += len(node)
        elif isinstance(node, Choice):
            total += max(
                max_length(option, variables, default_variable_length) for option in node.options
            )
        else:
            fallback_length = (
                0
                if node.fallback is None
                else max_length(node.fallback, variables, default_variable_length)
            )
            if variables is None:
                total += max(default_variable_length, fallback_length)
                continue
            value = variables.get(node.name)
            total += len(value) if value and not value.isspace() else fallback_length
    return total


def variable_positions(body: Body) -> tuple[dict[str, int], dict[str, int]]:
    """The variables of ``body``, all and required, each with its first placeholder's position.

    Positions are 0-based offsets in the source and names come in template order. A
    variable is required when at least one of its placeholders has no fallback; its
    position is then that of the first such placeholder.
    """
    # A depth-first walk meets placeholders in source order, so insertion order is it.
    every: dict[str, int] = {}
    required: dict[str, int] = {}
    _collect_variables(body, every, required)
    return every, required


def _collect_variables(body: Body, every: dict[str, int], required: dict[str, int]) -> None:
    for node in body:
        if isinstance(node, str):
            continue
        if isinstance(node, Choice):
            for option in node.options:
                _collect_variables(option, every, required)
            continue
        every.setdefault(node.name, node.position)
        if node.fallback is None:
            required.setdefault(node.name, node.position)
        else:
            _collect_variables(node.fallback, every, required)
