"""The options every command that reads a lead file takes: ``leads import``, ``suppress
import``, ``campaign launch --leads``. One reader (:mod:`sequences.leads_csv`), one set
of options, kept free of the engine so ``--help`` stays fast."""

from __future__ import annotations

from typing import Annotated, Final

import typer

DEFAULT_ENCODING: Final = "utf-8"
"""``sequences.DEFAULT_ENCODING``, without importing the package (a test keeps them equal)."""

EncodingOption = Annotated[
    str,
    typer.Option(
        help="The file's text encoding: utf-8 (a BOM is fine), cp1250 for Excel in "
        "Central Europe, latin-1 for Western Europe.",
    ),
]
PhoneColumnOption = Annotated[
    str | None,
    typer.Option(
        help="The column holding the numbers. Default: the one named phone, mobile, "
        "telefon, whatsapp or number (any case).",
        show_default=False,
    ),
]
