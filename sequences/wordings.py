"""Does a first step have wordings enough for the leads each phone writes to? (a launch check)

A phone never sends a first message too like one of its last ``window`` first messages
(``[texts]``, :mod:`engine.sending.wording`), so a phone that writes to ``n`` leads
needs ``min(n, window + 1)`` wordings of its first step that are pairwise unlike;
with fewer, some leads wait for another phone or never go. This estimates the number
by rendering the step's templates with sampled seeds and keeping each text unlike every
one kept so far (a greedy count: a lower bound, enough to warn). Every variable is
rendered as its own name, the same for every lead, so only the wording counts: real
names and companies make texts differ more, never less.
"""

from __future__ import annotations

import math
from typing import Final

from sequences.definition import Sequence
from spintax import Template
from spintax.similarity import jaccard, shingles

__all__ = ["SAMPLES", "distinct_wordings", "wording_warning"]

SAMPLES: Final = 400
"""Renderings sampled at most: enough to meet each of a few dozen wordings many times."""


def distinct_wordings(templates: tuple[Template, ...], *, threshold: float, cap: int) -> int:
    """How many pairwise unlike wordings (similarity under ``threshold``) sampling the
    ``templates`` in turn finds, counting no further than ``cap``."""
    kept: list[frozenset[str]] = []
    for sample in range(SAMPLES):
        template = templates[sample % len(templates)]
        values = {name: name for name in template.variables}
        own = shingles(template.render(values, seed=f"wordings:{sample}").text)
        if all(jaccard(own, other) < threshold for other in kept):
            kept.append(own)
            if len(kept) >= cap:
                break
    return len(kept)


def wording_warning(
    sequence: Sequence, *, leads: int, phones: int, window: int, threshold: float
) -> str | None:
    """A line saying the first step has too few wordings for ``leads`` spread over
    ``phones`` (each phone's first messages must differ from its last ``window``), or
    ``None`` when it has enough (or there is nobody to write to)."""
    if leads <= 0 or not sequence.steps:
        return None
    per_phone = math.ceil(leads / max(phones, 1))
    needed = min(per_phone, window + 1)
    found = distinct_wordings(sequence.steps[0].templates, threshold=threshold, cap=needed)
    if found >= needed:
        return None
    return (
        f"step 1 of {sequence.name} has about {found} distinct wording"
        f"{'' if found == 1 else 's'}, and a phone writing to {per_phone:,} leads needs "
        f"{needed} (each first message must differ from the phone's last {window}): leads "
        "will wait; add spintax choices ({a|b}) or A/B templates to step 1"
    )
