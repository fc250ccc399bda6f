"""A parsed template and what it renders: :class:`Template`, :class:`Rendered`, :func:`parse`.

Semantics decided here (the parser documents the syntax):

* **Choice** is uniform among the options at each level, independently of how many
  variants each option holds: ``{a|{b|c}}`` gives ``a`` half of the time.
* **Variables**: a value is inserted exactly as given and never parsed, so braces in
  it are literal. A value is *blank* when it is missing, empty or whitespace only;
  a blank value renders the fallback, ``{{name|}}`` renders nothing.
* **Required variables** have at least one placeholder without a fallback. Rendering
  refuses (:class:`MissingVariableError`) when any of them is blank, *even if this
  rendering's choices would skip the placeholder*, so whether a lead can be rendered
  never depends on the seed.
* **choices**: choice points are numbered in rendering order and only those visited
  are recorded, including the ones inside a fallback that is used.
* **Determinism**: the text depends only on the source, the values and the seed, on
  every machine and Python version (see :mod:`spintax.entropy`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NoReturn, final

from spintax.analysis import (
    count_variants,
    is_blank,
    max_length,
    variable_positions,
)
from spintax.entropy import DRAW_LIMIT, entropy_size_bytes, reseed_entropy, seed_entropy
from spintax.errors import MissingVariableError, line_and_column
from spintax.nodes import Body
from spintax.parser import parse_body
from spintax.program import Block, compile_program, run

__all__ = ["Rendered", "Template", "parse", "render"]

_VARIANT_ID_BYTES: Final = 8
_PARSE_CACHE_SIZE: Final = 256


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendering of a template.

    ``text`` is the message; ``choices`` the option index (0-based) taken at each
    visited choice point, in rendering order.
    """

    text: str
    choices: tuple[int, ...]

    @property
    def variant_id(self) -> str:
        """A short stable id (16 hex digits) of ``choices``, to group sends for A/B statistics.

        It identifies the choice path within one template: the same choices of two
        different templates share an id, so key statistics by template too.
        """
        path = ",".join(map(str, self.choices)).encode("ascii")
        return hashlib.blake2b(path, digest_size=_VARIANT_ID_BYTES).hexdigest()


@final
class Template:
    """A compiled template: parse once, render many times, from any number of threads.

    ``Template(source)`` parses ``source`` and raises :class:`SpintaxError` if it is
    malformed. A template is immutable; two templates are equal when their sources are.
    """

    __slots__ = (
        "_block",
        "_body",
        "_entropy_bytes",
        "_has_reseeds",
        "_required",
        "_source",
        "_variables",
    )
    _source: str
    _body: Body
    _block: Block
    _has_reseeds: bool
    _entropy_bytes: int
    _variables: frozenset[str]
    _required: tuple[tuple[str, int], ...]  # (name, first position), in template order

    def __init__(self, source: str) -> None:
        body = parse_body(source)
        program = compile_program(body, DRAW_LIMIT)
        every, required = variable_positions(body)
        sets = object.__setattr__  # the instance is frozen; see __setattr__
        sets(self, "_source", source)
        sets(self, "_body", body)  # kept for counting and length bounds
        sets(self, "_block", program.block)
        sets(self, "_has_reseeds", program.reseeds > 0)
        sets(self, "_entropy_bytes", entropy_size_bytes(program.max_path_product))
        sets(self, "_variables", frozenset(every))
        sets(self, "_required", tuple(required.items()))

    @property
    def source(self) -> str:
        """The template text this was parsed from."""
        return self._source

    @property
    def variables(self) -> frozenset[str]:
        """The names of every variable the template uses, with or without a fallback."""
        return self._variables

    @property
    def required_variables(self) -> frozenset[str]:
        """The variables that have a placeholder without a fallback; rendering needs each."""
        return frozenset(name for name, _ in self._required)

    def render(self, variables: Mapping[str, str], *, seed: str | int) -> Rendered:
        """Render with the lead's ``variables``; the same ``seed`` gives the same text.

        Use a stable seed such as ``"<enrollment id>:<step>"`` so a retried send
        renders the same text. Raises :class:`MissingVariableError` if a required
        variable is missing or blank.
        """
        for name, _ in self._required:
            value = variables.get(name)
            if not value or value.isspace():
                self._raise_missing(variables)
        entropy = seed_entropy(seed, self._entropy_bytes)
        reseed = functools.partial(reseed_entropy, seed) if self._has_reseeds else _no_reseed
        text, choices = run(self._block, entropy, variables, reseed)
        return Rendered(text, choices)

    def count_variants(self) -> int:
        """The exact number of choice paths when every variable has a value.

        Computed from the tree without enumerating, so it may be astronomically large.
        Fallbacks are not counted (they render only for blank variables), and paths
        are counted rather than distinct texts: ``{a|a}`` has 2 variants.
        """
        return count_variants(self._body)

    def max_length(
        self, variables: Mapping[str, str] | None = None, *, default_variable_length: int = 0
    ) -> int:
        """The length in characters of the longest possible rendering.

        With ``variables`` (a lead's values) the result is exact for that lead: each
        placeholder counts its value, or its fallback when the value is blank; raises
        :class:`MissingVariableError` like :meth:`render`. Without, each placeholder
        counts ``default_variable_length`` characters (the longest value you allow),
        or its fallback's longest rendering if that is longer. Compare with the
        channel's limit (TimelinesAI: 2000) before launching.
        """
        if default_variable_length < 0:
            raise ValueError("default_variable_length must not be negative")
        if variables is not None:
            for name, _ in self._required:
                if is_blank(variables.get(name)):
                    self._raise_missing(variables)
        return max_length(self._body, variables, default_variable_length)

    def _raise_missing(self, variables: Mapping[str, str]) -> NoReturn:
        missing = [(name, pos) for name, pos in self._required if is_blank(variables.get(name))]
        position = missing[0][1]
        names = tuple(name for name, _ in missing)
        raise MissingVariableError(names, position, *line_and_column(self._source, position))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Template is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Template is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Template], tuple[str]]:
        return (Template, (self._source,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other._source == self._source

    def __hash__(self) -> int:
        return hash(self._source)

    def __repr__(self) -> str:
        shown = self._source if len(self._source) <= 60 else self._source[:57] + "..."
        return f"Template({shown!r})"


def _no_reseed(reseed: int) -> NoReturn:
    raise AssertionError(f"reseed point {reseed} in a template compiled without any")


def parse(source: str) -> Template:
    """Compile ``source`` into a reusable :class:`Template`; raises :class:`SpintaxError`."""
    return Template(source)


def render(source: str, variables: Mapping[str, str], *, seed: str | int) -> Rendered:
    """``parse(source).render(variables, seed=seed)``, reusing recently parsed templates."""
    return _parse_cached(source).render(variables, seed=seed)


@functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_cached(source: str) -> Template:
    # lru_cache is thread-safe and does not cache exceptions, so a malformed source
    # raises on every call.
    return Template(source)
