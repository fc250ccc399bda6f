"""The compiled form of a template and the loop that renders it.

Rendering must take microseconds, so the tree is compiled once into *blocks*: a
block is the tuple of a body's output pieces with its literal text already in place
and empty slots for the dynamic parts, plus the steps that fill those slots. A
render copies the pieces (one C-level copy), runs the steps and joins. Choices
whose options are all plain text, and fallbacks that are plain text, become a single
step each, so the common ``{Hi|Hello}`` and ``{{first_name|there}}`` cost no
recursion.

Randomness comes in as one non-negative integer ``entropy``; each choice point with
``n`` options takes ``entropy % n`` as its option and continues with ``entropy // n``.
Dividing a big integer costs time in proportion to its size, so a huge template
does not get one huge integer: where the draws since the last fresh chunk could
exceed ``draw_limit``, the compiler inserts a *reseed* step that takes the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from spintax.nodes import Body, Choice, body_draws

__all__ = ["Block", "Program", "compile_program", "run"]

# Step kinds; a step is (slot, kind, a, b) with a and b by kind:
_PICK: Final = 0  # a: option texts, b: their number
_CHOOSE: Final = 1  # a: option blocks, b: their number
_VALUE: Final = 2  # a: variable name (present: checked before rendering)
_RESEED: Final = 3  # a: reseed point number; fills no slot
_VALUE_OR_TEXT: Final = 4  # a: variable name, b: fallback text
_VALUE_OR_BLOCK: Final = 5  # a: variable name, b: fallback block

# The operands are typed by the step kind, which mypy cannot follow through tuple
# unpacking in the hot loop; Any there avoids a cast() call per step.
Step: TypeAlias = tuple[int, int, Any, Any]
Block: TypeAlias = tuple[tuple[str, ...], tuple[Step, ...]]
Reseed: TypeAlias = Callable[[int], int]


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled template.

    ``max_path_product`` is the largest product of option counts along any path
    (fallbacks included): how much entropy a rendering can draw in all.
    """

    block: Block
    reseeds: int
    max_path_product: int


def compile_program(body: Body, draw_limit: int) -> Program:
    """Compile ``body``, with reseed points wherever draws could exceed ``draw_limit``."""
    product = body_draws(body)
    # The usual case is far below the limit: no reseeds, no bookkeeping.
    compiler = _Compiler(draw_limit if product > draw_limit else None)
    block, _ = compiler.block(body, 1)
    return Program(block, compiler.reseeds, product)


def run(
    block: Block, entropy: int, variables: Mapping[str, str], reseed: Reseed
) -> tuple[str, tuple[int, ...]]:
    """Render ``block``: the text and the option index taken at each visited choice point.

    ``reseed(k)`` gives the fresh entropy of reseed point ``k``. Every required
    variable must have a non-blank value in ``variables`` (the caller checks, so that
    the outcome never depends on which options the entropy picks).
    """
    choices: list[int] = []
    text, _ = _emit(block, entropy, variables, choices.append, reseed)
    return text, tuple(choices)


def _emit(
    block: Block,
    entropy: int,
    variables: Mapping[str, str],
    record: Callable[[int], None],
    reseed: Reseed,
) -> tuple[str, int]:
    """Render ``block``; return its text and the entropy left for what follows it."""
    pieces, steps = block
    out = [*pieces]
    # Ordered by frequency: plain-text choices first.
    for slot, kind, a, b in steps:
        if kind == _PICK:
            entropy, index = divmod(entropy, b)
            record(index)
            out[slot] = a[index]
        elif kind == _CHOOSE:
            entropy, index = divmod(entropy, b)
            record(index)
            out[slot], entropy = _emit(a[index], entropy, variables, record, reseed)
        elif kind == _VALUE:
            out[slot] = variables[a]
        elif kind == _RESEED:
            entropy = reseed(a)
        else:
            value = variables.get(a)
            if value and not value.isspace():
                # Inserted as is: a value is data, never parsed as spintax.
                out[slot] = value
            elif kind == _VALUE_OR_TEXT:
                out[slot] = b
            else:
                out[slot], entropy = _emit(b, entropy, variables, record, reseed)
    return "".join(out), entropy


class _Compiler:
    """Compiles bodies into blocks, tracking draws for reseeding when ``limit`` is set."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.reseeds = 0

    def block(self, body: Body, drawn: int) -> tuple[Block, int]:
        """Compile ``body``, and track the draws since the last fresh entropy.

        ``drawn`` is the product of the option counts drawn before ``body``; the
        result is the block and that product after it, in the worst case. Keeping it
        within ``limit`` keeps every draw within 2**-64 of uniform.
        """
        pieces: list[str] = []
        steps: list[Step] = []
        for node in body:
            if isinstance(node, str):
                pieces.append(node)
                continue
            if self.limit is not None and drawn > 1 and drawn * node.draws > self.limit:
                steps.append((-1, _RESEED, self.reseeds, None))
                self.reseeds += 1
                drawn = 1
            slot = len(pieces)
            pieces.append("")
            if isinstance(node, Choice):
                count = len(node.options)
                texts = [_plain_text(option) for option in node.options]
                if all(text is not None for text in texts):
                    steps.append((slot, _PICK, tuple(texts), count))
                    drawn *= count
                    continue
                compiled = [self.block(option, drawn * count) for option in node.options]
                steps.append((slot, _CHOOSE, tuple(block for block, _ in compiled), count))
                drawn = max(after for _, after in compiled)
            elif node.fallback is None:
                steps.append((slot, _VALUE, node.name, None))
            elif (text := _plain_text(node.fallback)) is not None:
                steps.append((slot, _VALUE_OR_TEXT, node.name, text))
            else:
                fallback, after = self.block(node.fallback, drawn)
                steps.append((slot, _VALUE_OR_BLOCK, node.name, fallback))
                drawn = max(drawn, after)
        return (tuple(pieces), tuple(steps)), drawn


def _plain_text(body: Body) -> str | None:
    """The text of ``body`` if it is plain text (or empty), else ``None``."""
    if not body:
        return ""
    if len(body) == 1 and isinstance(body[0], str):
        return body[0]
    return None
