"""The launch check: does a first step have wordings enough for the leads of each phone?"""

from __future__ import annotations

import pytest

from sequences.definition import Sequence, Step
from sequences.wordings import distinct_wordings, wording_warning
from spintax import parse


def sequence_of(*sources: str) -> Sequence:
    step = Step(0, 0.0, tuple(parse(source) for source in sources), sources)
    return Sequence("intro", "UTC", None, True, (step,))


@pytest.mark.parametrize(
    ("sources", "cap", "expected"),
    [
        (("Hello {{name}}",), 10, 1),
        (("{Hi|Hello} {{name}}, a question for {{company|you}}",), 10, 2),
        # Two paths, one wording: the greeting is one shingle in ten (8/10 = 0.8 alike).
        (("{Hi|Hello} a b c d e f g h i j",), 10, 1),
        (("{Hi|Hello|Hey} {{name}}, {quick|short|brief} question about {{company}}.",), 50, 9),
        (("Hello {{name}}", "Good morning {{name}}, how are you"), 10, 2),  # A/B variants
        ((" ".join(f"{{w{i}|v{i}}}" for i in range(8)),), 21, 21),  # capped
    ],
)
def test_distinct_wordings(sources: tuple[str, ...], cap: int, expected: int) -> None:
    templates = tuple(parse(source) for source in sources)
    assert distinct_wordings(templates, threshold=0.8, cap=cap) == expected


def test_too_few_wordings_for_the_leads_of_a_phone_is_one_warning_line() -> None:
    warning = wording_warning(
        sequence_of("Hello {{name}}"), leads=3, phones=1, window=20, threshold=0.8
    )
    assert warning is not None and "\n" not in warning
    assert warning.startswith("step 1 of intro has about 1 distinct wording, and a phone")
    assert "writing to 3 leads needs 3" in warning


@pytest.mark.parametrize(
    ("leads", "phones", "window", "warns"),
    [
        (2, 1, 20, False),  # two wordings, two leads on the phone
        (3, 1, 20, True),
        (4, 2, 20, False),  # two leads per phone
        (5, 2, 20, True),
        (100, 1, 1, False),  # each text need only differ from the one before
        (100, 1, 2, True),
        (0, 1, 20, False),
    ],
)
def test_the_warning_weighs_wordings_against_leads_per_phone_and_window(
    leads: int, phones: int, window: int, warns: bool
) -> None:
    sequence = sequence_of("{Hi|Hello} {{name}}, a question for {{company|you}}")
    warning = wording_warning(sequence, leads=leads, phones=phones, window=window, threshold=0.8)
    assert (warning is not None) is warns
