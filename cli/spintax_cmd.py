"""``outreach spintax``: preview a template's renderings and check a template for errors.

TEMPLATE arguments are template text, or the path of an existing UTF-8 file that
holds it, or ``-`` for standard input. Exit status: 0 on success, 1 for a template
error or a missing variable, 2 for a malformed option or an unreadable file.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from spintax import SpintaxError, Template


__all__ = ["app"]

app = typer.Typer(
    help="Preview and check spintax message templates ({a|b} choices, {{name|fallback}} "
    "variables).",
    no_args_is_help=True,
)

_EXCERPT_WIDTH: Final = 72
_MESSAGE_LIMIT: Final = 2000  # characters TimelinesAI accepts in one message
_EXACT_BELOW: Final = 10**15
_TEMPLATE_HELP: Final = (
    "Template text, or the path of a UTF-8 file holding it, or '-' for standard input."
)


@app.command()
def preview(
    template: Annotated[str, typer.Argument(help=_TEMPLATE_HELP, metavar="TEMPLATE")],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            metavar="KEY=VALUE",
            help="A variable's value, e.g. --var first_name=Ana; repeat for several.",
        ),
    ] = None,
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, help="How many renderings to print.")
    ] = 5,
    seed: Annotated[
        str,
        typer.Option(
            help="Seed of the first rendering; the i-th after it uses 'SEED:i'. The engine "
            "seeds with '<enrollment id>:<step>', so '--seed 42:1 -n 1' shows that send."
        ),
    ] = "preview",
) -> None:
    """Print a few renderings of a template and how many variants it has."""
    from spintax import MissingVariableError

    out, err = _consoles()
    variables = _parse_variables(var or [], err)
    source, path = _read_source(template, err)
    compiled = _parse_or_exit(source, path, err)
    try:
        longest = compiled.max_length(variables)
        renderings = [
            (label, compiled.render(variables, seed=label))
            for label in [seed] + [f"{seed}:{i}" for i in range(1, count)]
        ]
    except MissingVariableError as error:
        _print_error(err, source, path, error)
        err.print(
            Text(f"hint: pass --var {error.name}=VALUE or give it a fallback", style="yellow")
        )
        raise typer.Exit(1) from error
    for number, (label, rendered) in enumerate(renderings, start=1):
        header = f"#{number}  seed {label!r}  variant {rendered.variant_id}"
        out.print(Text(header, style="dim"))
        out.print(Text(rendered.text))
        out.print()
    out.print(
        Text(
            f"{_quantity(compiled.count_variants(), 'variant')}; longest rendering "
            f"{_quantity(longest, 'character')} with these values"
        )
    )
    if longest > _MESSAGE_LIMIT:
        err.print(
            Text(
                f"warning: some renderings exceed the {_MESSAGE_LIMIT:,}-character message "
                "limit of TimelinesAI; shorten the longest options",
                style="yellow",
            )
        )


@app.command()
def check(
    template: Annotated[str, typer.Argument(help=_TEMPLATE_HELP, metavar="FILE_OR_TEMPLATE")],
) -> None:
    """Report the first error of a template with a caret under it (exit 1), or OK."""
    out, err = _consoles()
    source, path = _read_source(template, err)
    compiled = _parse_or_exit(source, path, err)
    optional = sorted(compiled.variables - compiled.required_variables)
    required = sorted(compiled.required_variables)
    variables = "; ".join(
        part
        for part in (
            f"required: {', '.join(required)}" if required else "",
            f"optional: {', '.join(optional)}" if optional else "",
        )
        if part
    )
    out.print(
        Text.assemble(
            ("OK", "bold green"),
            f": {_quantity(compiled.count_variants(), 'variant')}; "
            f"variables: {variables or 'none'}",
        )
    )


def _consoles() -> tuple[Console, Console]:
    # Created per command, not at import, so test runners capture the output; no
    # markup, emoji codes or highlighting, since template text is printed as is.
    out = Console(emoji=False, highlight=False, markup=False, soft_wrap=True)
    err = Console(emoji=False, highlight=False, markup=False, soft_wrap=True, stderr=True)
    return out, err


def _parse_variables(pairs: list[str], err: Console) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            err.print(Text(f"error: --var {pair!r} is not KEY=VALUE (e.g. --var first_name=Ana)"))
            raise typer.Exit(2)
        variables[name.strip()] = value
    return variables


def _read_source(argument: str, err: Console) -> tuple[str, str | None]:
    """The template text and the file it came from (``None`` for text given inline)."""
    if argument == "-":
        return sys.stdin.read(), "<stdin>"
    if not _is_file(argument):
        return argument, None
    try:
        return Path(argument).read_text(encoding="utf-8"), argument
    except (OSError, UnicodeDecodeError) as error:
        err.print(Text(f"error: cannot read {argument}: {error}"))
        raise typer.Exit(2) from error


def _is_file(argument: str) -> bool:
    # Template text is rarely a valid path: too long, or with a NUL, is_file() raises.
    try:
        return Path(argument).is_file()
    except (OSError, ValueError):
        return False


def _parse_or_exit(source: str, path: str | None, err: Console) -> Template:
    from spintax import SpintaxError, parse

    try:
        return parse(source)
    except SpintaxError as error:
        _print_error(err, source, path, error)
        raise typer.Exit(1) from error


def _print_error(err: Console, source: str, path: str | None, error: SpintaxError) -> None:
    """Print ``error`` as ``where: error: reason``, then its line with a caret under it."""
    if path is None:
        where = f"line {error.line}, column {error.column}"
    else:  # the compiler convention, which editors and terminals turn into links
        where = f"{path}:{error.line}:{error.column}"
    err.print(Text.assemble(f"{where}: ", ("error", "bold red"), f": {error.reason}"))
    line = source.split("\n")[error.line - 1].rstrip("\r")
    shown, caret_at = _excerpt(line, error.column - 1)
    gutter = f"{error.line} | "
    err.print(Text(gutter + shown))
    err.print(Text(" " * (len(gutter) - 2) + "| " + " " * caret_at + "^", style="bold red"))


def _excerpt(line: str, index: int) -> tuple[str, int]:
    """The part of ``line`` to show around character ``index``, and the caret's cell offset.

    Tabs are expanded and wide characters counted as two cells so the caret lines up;
    a long line is cut to a window around the caret, marked with ``…``.
    """
    expanded = line.expandtabs()
    index = len(line[:index].expandtabs())
    start = max(0, min(index - _EXCERPT_WIDTH // 2, len(expanded) - _EXCERPT_WIDTH))
    end = start + _EXCERPT_WIDTH
    head = "…" if start > 0 else ""
    tail = "…" if end < len(expanded) else ""
    return head + expanded[start:end] + tail, cell_len(head + expanded[start:index])


def _quantity(number: int, noun: str) -> str:
    """``number noun(s)``; past 15 digits as ``1.23e+90``, since variant counts can have
    more digits than Python will print (``int`` to ``str`` is capped at 4300)."""
    if number < _EXACT_BELOW:
        return f"{number:,} {noun}{'' if number == 1 else 's'}"
    exponent = math.floor(math.log10(number))
    mantissa = round(10 ** (math.log10(number) - exponent), 2)
    if mantissa >= 10:  # 9.999 rounded up
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.2f}e+{exponent} {noun}s"
