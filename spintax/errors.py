"""The errors of the spintax package: a template that does not parse, a lead that cannot fill it.

Both carry the place of the problem in the template source as a 0-based ``position``
and as a 1-based ``line`` and ``column``, so a caller can point at it with a caret.
"""

from __future__ import annotations

__all__ = ["MissingVariableError", "SpintaxError", "line_and_column"]


def line_and_column(source: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of the 0-based ``position`` in ``source``.

    Lines are split on ``\\n`` only, so a ``\\r`` before it is text of the line it
    ends; the column counts characters (code points), not display cells.
    """
    line = source.count("\n", 0, position) + 1
    line_start = source.rfind("\n", 0, position) + 1
    return line, position - line_start + 1


class SpintaxError(ValueError):
    """Raised when a template is malformed; the message names the problem and its place.

    ``reason`` is the message without the place, ``position`` the 0-based offset of
    the problem in the source, ``line`` and ``column`` the same place 1-based.
    """

    def __init__(self, reason: str, position: int, line: int, column: int) -> None:
        # Every constructor argument goes to ``args`` so the error pickles (it may be
        # raised in a worker process and reported in another).
        super().__init__(reason, position, line, column)
        self.reason = reason
        self.position = position
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.reason} (line {self.line}, column {self.column})"


class MissingVariableError(SpintaxError):
    """Raised when a variable the template requires (no fallback) is missing or blank.

    ``name`` is the first such variable in template order and ``names`` all of them;
    the position points at the first placeholder of ``name``.
    """

    def __init__(self, names: tuple[str, ...], position: int, line: int, column: int) -> None:
        listed = ", ".join(repr(name) for name in names)
        plural = "s" if len(names) > 1 else ""
        reason = (
            f"missing required variable{plural} {listed}: give each a non-blank value, "
            f"or make it optional with a fallback such as {{{{{names[0]}|...}}}}"
        )
        super().__init__(reason, position, line, column)
        # ``args`` must replay this constructor, not the base one, for pickling.
        self.args = (names, position, line, column)
        self.name = names[0]
        self.names = names
