"""Template source to syntax tree, with a precise error for every malformed template.

The grammar, informally::

    body      := (text | escape | choice | variable)*
    choice    := "{" body ("|" body)* "}"
    variable  := "{{" space* name space* ("|" body)? "}}"
    name      := (letter | digit | "_" | ".")+
    escape    := "\\{" | "\\}" | "\\|" | "\\\\"

A ``{`` followed by exactly one more ``{`` opens a variable, so an option may begin
with a variable (``{{{first_name}}|there}`` is a choice) but not with a nested
choice: ``{{a|b} c|d}`` reads as the variable ``a``; put text before the nested
choice or reorder the options (``{d|{a|b} c}``). Inside a fallback, ``|`` must be
inside a choice or escaped and a single ``}`` is an error, so ``}}`` is never
ambiguous. Spaces around a variable name are allowed (``{{ first_name }}``);
letters and digits are those of any script (Python's ``\\w``).
"""

from __future__ import annotations

import re
from typing import Final

from spintax.errors import SpintaxError, line_and_column
from spintax.nodes import Body, Choice, Node, Variable, body_draws

__all__ = ["MAX_NESTING", "parse_body"]

MAX_NESTING: Final = 100
"""The deepest nesting of choices and fallbacks accepted; deeper raises :class:`SpintaxError`.

No human writes a hundred levels; the limit keeps every walk of the tree far from
Python's recursion limit, whatever text is thrown at the parser.
"""

_SPECIAL: Final = re.compile(r"[{}|\\]")
_NAME: Final = re.compile(r"\s*([\w.]*)(\s*)")
_NAME_CHAR: Final = re.compile(r"[\w.]")
_ESCAPABLE: Final = frozenset("{}|\\")
_PLAIN_CHOICE: Final = re.compile(r"\{([^{}|\\]*(?:\|[^{}|\\]*)*)\}")
_PLAIN_FALLBACK: Final = re.compile(r"\|([^{}|\\]*)\}\}")

# Where a body ends: the top level runs to the end of the source, an option stops at
# ``|`` or ``}``, a fallback at ``}}``.
_TOP: Final = 0
_OPTION: Final = 1
_FALLBACK: Final = 2


def parse_body(source: str) -> Body:
    """The syntax tree of ``source``; raises :class:`SpintaxError` if it is malformed."""
    parser = _Parser(source)
    body, _ = parser.body(_TOP, "")
    return body


class _Parser:
    """A recursive-descent parser over one source; ``pos`` is the next offset to read."""

    __slots__ = ("depth", "pos", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.depth = 0

    def error(self, position: int, reason: str) -> SpintaxError:
        return SpintaxError(reason, position, *line_and_column(self.source, position))

    def body(self, context: int, variable_name: str) -> tuple[Body, str]:
        """Parse a body from ``pos`` in ``context``; return it and what ended it.

        The terminator is ``""`` at the end of the source, else ``"|"``, ``"}"`` or
        ``"}}"``, already consumed. ``variable_name`` names the variable whose fallback
        this is, for messages.
        """
        source = self.source
        search = _SPECIAL.search
        nodes: list[Node] = []
        text: list[str] = []
        pos = self.pos
        while True:
            match = search(source, pos)
            if match is None:
                if pos < len(source):
                    text.append(source[pos:])
                pos, terminator = len(source), ""
                break
            start = match.start()
            if start > pos:
                text.append(source[pos:start])
            char = source[start]
            if char == "\\":
                escaped = source[start + 1 : start + 2]
                if escaped not in _ESCAPABLE:
                    raise self.error(start, _unknown_escape(escaped))
                text.append(escaped)
                pos = start + 2
            elif char == "{":
                if text:
                    nodes.append("".join(text))
                    text = []
                self.pos = start
                # Only an exact ``{{`` opens a variable: in ``{{{x}}|y}`` the first brace
                # opens a choice whose first option is the variable.
                is_variable = source.startswith("{", start + 1) and not source.startswith(
                    "{", start + 2
                )
                nodes.append(self.variable() if is_variable else self.choice())
                pos = self.pos
            elif context == _OPTION:
                pos, terminator = start + 1, char
                break
            elif char == "}":
                if context == _FALLBACK and source.startswith("}", start + 1):
                    pos, terminator = start + 2, "}}"
                    break
                if context == _FALLBACK:
                    raise self.error(
                        start,
                        f"single '}}' in the fallback of {{{{{variable_name}}}}}: close the "
                        "variable with '}}' or write \\} for a literal '}'",
                    )
                raise self.error(
                    start, "unbalanced '}': no matching '{' (write \\} for a literal '}')"
                )
            elif context == _FALLBACK:
                raise self.error(
                    start,
                    f"'|' in the fallback of {{{{{variable_name}}}}} must be inside a choice "
                    "{...} or written \\|",
                )
            else:
                raise self.error(start, "'|' outside braces (write \\| for a literal '|')")
        if text:
            nodes.append("".join(text))
        self.pos = pos
        return tuple(nodes), terminator

    def choice(self) -> Choice:
        """Parse ``{a|b|...}`` starting at ``pos`` (on the ``{``)."""
        opener = self.pos
        self.enter(opener)
        plain = _PLAIN_CHOICE.match(self.source, opener)
        if plain is not None:
            # The common case, options of plain text, in one regex match.
            self.depth -= 1
            self.pos = plain.end()
            texts = plain.group(1).split("|")
            return Choice(tuple((text,) if text else () for text in texts), opener, len(texts))
        self.pos = opener + 1
        options: list[Body] = []
        while True:
            option, terminator = self.body(_OPTION, "")
            options.append(option)
            if terminator == "}":
                break
            if not terminator:
                raise self.error(
                    opener, "unbalanced '{': no matching '}' (write \\{ for a literal '{')"
                )
        self.depth -= 1
        draws = len(options) * max(map(body_draws, options))
        return Choice(tuple(options), opener, draws)

    def variable(self) -> Variable:
        """Parse ``{{name}}`` or ``{{name|fallback}}`` starting at ``pos`` (on the ``{{``)."""
        source = self.source
        opener = self.pos
        match = _NAME.match(source, opener + 2)
        assert match is not None  # every part of the pattern may match empty
        name, space_after = match.group(1), match.group(2)
        after = match.end()
        if source.startswith("}}", after):
            if not name:
                raise self.error(opener, "empty variable name in '{{}}'")
            self.pos = after + 2
            return Variable(name, None, opener, 1)
        if source.startswith("|", after):
            if not name:
                raise self.error(opener, "empty variable name before '|' in '{{...}}'")
            self.enter(opener)
            plain = _PLAIN_FALLBACK.match(source, after)
            if plain is not None:
                self.depth -= 1
                self.pos = plain.end()
                text = plain.group(1)
                return Variable(name, (text,) if text else (), opener, 1)
            self.pos = after + 1
            fallback, terminator = self.body(_FALLBACK, name)
            if not terminator:
                raise self.error(
                    opener, f"unclosed '{{{{': the fallback of {{{{{name}}}}} has no closing '}}}}'"
                )
            self.depth -= 1
            return Variable(name, fallback, opener, body_draws(fallback))
        if after == len(source) or source[after] == "}":
            raise self.error(opener, "unclosed '{{': expected '}}' after the variable name")
        if space_after and _NAME_CHAR.match(source, after):
            raise self.error(after - len(space_after), "space inside a variable name")
        raise self.error(
            after,
            f"invalid character {source[after]!r} in a variable name "
            "(use letters, digits, '_' and '.')",
        )

    def enter(self, opener: int) -> None:
        """Count one more level of nesting, refusing to go deeper than :data:`MAX_NESTING`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(opener, f"nesting deeper than {MAX_NESTING} levels")


def _unknown_escape(escaped: str) -> str:
    if not escaped:
        what = "'\\' at the end of the template"
    elif escaped.isprintable():
        what = f"'\\{escaped}'"
    else:
        what = f"'\\' followed by {escaped!r}"
    return f"unknown escape {what}: only \\{{ \\}} \\| and \\\\ are escapes (\\\\ is a backslash)"
