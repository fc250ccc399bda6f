"""How alike two message texts are: word-shingle Jaccard similarity.

WhatsApp flags a number that sends the same text to many contacts; spintax makes
wordings differ, and this measures whether two renderings differ *enough*. A text's
shingles are its runs of :data:`SHINGLE_WORDS` consecutive words, after normalising:
words are the runs of letters and digits (``\\w+``), case-folded, so punctuation,
spacing and capitals never make two texts look different. The similarity of two texts
is the Jaccard index of their shingle sets, ``|A ∩ B| / |A ∪ B|``: 1.0 for the same
words in the same order, 0.0 when no three-word run is shared.

Short texts: a text of fewer than :data:`SHINGLE_WORDS` words has one shingle, all its
words, so ``"Hi Ana"`` and ``"Hi Bob"`` share nothing (0.0) and ``"Hi Ana"`` and
``"hi, ana!"`` are the same (1.0). Two texts without any word are the same (1.0): an
empty message sent twice is a repeat.

Three-word shingles are the usual unit of near-duplicate detection for short documents
(Broder 1997 used ``w``-word shingles; one word is too coarse, a swapped greeting would
look new, five would let texts differing in one word in four pass as new).

Pure and cheap: the sender's check of a first message (6 candidate wordings against the
phone's last 20 first messages) costs well under a millisecond (``bench/spintax_bench.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "SHINGLE_WORDS",
    "first_dissimilar",
    "jaccard",
    "shingles",
    "text_similarity",
    "too_similar",
]

SHINGLE_WORDS: Final = 3
"""Words per shingle."""

_WORD: Final = re.compile(r"\w+")

Shingles = frozenset[str]
"""A text's shingles, each its words joined by one space (a ``str`` keeps its hash, so
set operations do not hash tuples again)."""


def shingles(text: str) -> Shingles:
    """The set of runs of :data:`SHINGLE_WORDS` normalised words of ``text`` (a text with
    fewer words has one shingle, all of them; a text without words has none)."""
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return frozenset([" ".join(words)]) if words else frozenset()
    runs = zip(*(words[start:] for start in range(SHINGLE_WORDS)), strict=False)
    return frozenset(map(" ".join, runs))


def jaccard(first: Shingles, second: Shingles) -> float:
    """``|first ∩ second| / |first ∪ second|``; two empty sets are the same (1.0)."""
    if not first and not second:
        return 1.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def text_similarity(first: str, second: str) -> float:
    """How alike two texts are, from 0.0 (no shared three-word run) to 1.0 (same words)."""
    return jaccard(shingles(first), shingles(second))


def too_similar(text: str, recent: Iterable[str], threshold: float) -> bool:
    """Whether ``text`` is at least ``threshold`` similar to any of the ``recent`` texts."""
    own = shingles(text)
    return any(jaccard(own, shingles(other)) >= threshold for other in recent)


def first_dissimilar(
    candidates: Iterable[str], recent: Sequence[str], threshold: float
) -> int | None:
    """The index of the first of ``candidates`` less than ``threshold`` similar to every
    one of ``recent``; ``None`` when each is too similar to one of them.

    ``candidates`` may be lazy: the ones after the chosen one are never drawn. The
    recent texts are shingled once, however many candidates are tried.
    """
    seen = [shingles(other) for other in recent]
    for index, candidate in enumerate(candidates):
        own = shingles(candidate)
        if all(jaccard(own, other) < threshold for other in seen):
            return index
    return None
