"""The syntax tree of a parsed template: literal text, choices and variables.

A body is a tuple of nodes rendered one after another. Literal text is a plain
``str`` (adjacent text and escapes are merged into one); a :class:`Choice` renders
one of its option bodies; a :class:`Variable` inserts a value or its fallback body.
Every part is immutable, so a tree is safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["Body", "Choice", "Node", "Variable", "body_draws"]


@dataclass(frozen=True, slots=True)
class Choice:
    """``{a|b|c}``: one option body is rendered, chosen uniformly at random.

    ``position`` is the 0-based offset of the opening ``{`` in the source; ``draws``
    is :func:`body_draws` of the node alone (the parser computes it, bottom-up).
    """

    options: tuple[Body, ...]
    position: int
    draws: int


@dataclass(frozen=True, slots=True)
class Variable:
    """``{{name}}`` or ``{{name|fallback}}``: the variable's value, or the fallback body.

    ``fallback`` is ``None`` when there is none (the variable is then required);
    ``()`` for ``{{name|}}`` (optional, renders nothing when blank). ``position`` is
    the 0-based offset of the opening ``{{`` in the source; ``draws`` is
    :func:`body_draws` of the node alone.
    """

    name: str
    fallback: Body | None
    position: int
    draws: int


Node: TypeAlias = "str | Choice | Variable"
Body: TypeAlias = "tuple[Node, ...]"


def body_draws(body: Body) -> int:
    """The largest product of option counts along any path through ``body``.

    Fallbacks included, since a rendering may take them. A rendering draws its
    choices from one random integer; this is how large that integer must be.
    """
    product = 1
    for node in body:
        if not isinstance(node, str):
            product *= node.draws
    return product
