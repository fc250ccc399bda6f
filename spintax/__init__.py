"""Spintax: message templates that vary their wording and fill in each lead's details.

``{Hi|Hello {there|friend}}`` picks one option (uniformly at each level),
``{{first_name|there}}`` inserts a variable or its fallback, and ``\\{ \\} \\| \\\\``
are literal characters. The package is pure: no I/O, no clock, no global random
state; the same template, values and seed render the same text everywhere.

>>> template = parse("{Hi|Hello} {{first_name|there}}!")
>>> template.render({"first_name": "Ana"}, seed="42:1").text in {"Hi Ana!", "Hello Ana!"}
True
>>> template.count_variants()
2

:func:`text_similarity` measures how alike two renderings are (word-shingle Jaccard),
so a phone never sends near-identical first messages (:func:`too_similar`).
"""

from spintax.errors import MissingVariableError, SpintaxError
from spintax.similarity import first_dissimilar, text_similarity, too_similar
from spintax.template import Rendered, Template, parse, render

__all__ = [
    "MissingVariableError",
    "Rendered",
    "SpintaxError",
    "Template",
    "first_dissimilar",
    "parse",
    "render",
    "text_similarity",
    "too_similar",
]
