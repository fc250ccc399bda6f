"""Word-shingle Jaccard similarity: the measure that keeps a phone's texts apart."""

from __future__ import annotations

import pytest

from spintax import first_dissimilar, text_similarity, too_similar
from spintax.similarity import jaccard, shingles


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("Hi Ana, a quick question about Acme", "Hi Ana, a quick question about Acme", 1.0),
        # Case, punctuation and spacing are not wording.
        ("Hi Ana, a quick question", "hi   ana a QUICK question!", 1.0),
        ("one two three four", "five six seven eight", 0.0),
        # 4 shingles each, 3 shared (one word changed at the start): 3 / 5.
        ("Hi Ana quick question about Acme", "Hello Ana quick question about Acme", 0.6),
        # A word changed in the middle breaks three shingles of five: 2 / 8.
        ("a b c d e f g", "a b c x e f g", 0.25),
        # Shorter than a shingle: the whole text is one shingle.
        ("Hi Ana", "Hi Bob", 0.0),
        ("Hi Ana", "hi, ana!", 1.0),
        ("Hi", "Hi there friend", 0.0),
        ("", "", 1.0),
        ("", "...", 1.0),
        ("", "Hi", 0.0),
    ],
)
def test_text_similarity(first: str, second: str, expected: float) -> None:
    assert text_similarity(first, second) == pytest.approx(expected)
    assert text_similarity(second, first) == pytest.approx(expected)


def test_shingles_are_runs_of_three_normalised_words() -> None:
    assert shingles("A b, C d") == {"a b c", "b c d"}
    assert shingles("Ça va") == {"ça va"}
    assert shingles("  ") == frozenset()
    assert jaccard(frozenset(), frozenset()) == 1.0


# 38 shingles each, the last word changed: 37 shared of 39.
LONG = " ".join(f"w{i}" for i in range(40))
LONG_EDITED = LONG.replace("w39", "changed")


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.8, True), (37 / 39, True), (37 / 39 + 1e-9, False), (0.95, False), (1.0, False)],
)
def test_too_similar_is_at_or_above_the_threshold(threshold: float, expected: bool) -> None:
    assert text_similarity(LONG, LONG_EDITED) == pytest.approx(37 / 39)
    assert too_similar(LONG_EDITED, ["unrelated words here", LONG], threshold) is expected


def test_too_similar_with_nothing_recent_is_never() -> None:
    assert too_similar("Hi Ana", [], 0.8) is False
    assert too_similar("Hi Ana", ["Hi Ana"], 1.0) is True  # a threshold of 1 still stops repeats


def test_first_dissimilar_picks_the_first_candidate_unlike_every_recent_text() -> None:
    recent = ["Hi Ana, quick question about Acme", "Hey Ana, quick question about Acme"]
    candidates = [
        "hi ana quick question about acme",
        "Hey Ana, quick question about Acme.",
        "Hello Ana, quick question about Acme",
        "Hello Ana, short question about Acme",
    ]
    assert first_dissimilar(candidates, recent, 0.8) == 2
    assert first_dissimilar(candidates, recent, 0.1) is None  # the last shares 1 of 7
    assert first_dissimilar(candidates, [], 0.8) == 0


def test_first_dissimilar_draws_no_candidate_after_the_chosen_one() -> None:
    drawn: list[int] = []

    def candidates() -> object:
        for index, text in enumerate(["a b c", "d e f", "g h i"]):
            drawn.append(index)
            yield text

    assert first_dissimilar(candidates(), ["a b c"], 0.8) == 1  # type: ignore[arg-type]
    assert drawn == [0, 1]
