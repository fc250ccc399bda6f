"""Previewing steps for a lead: the same variant and text the sender would produce."""

from __future__ import annotations

import pytest

from sequences import (
    SequencesError,
    SequenceSettings,
    StepSettings,
    choose_variant,
    compile_sequences,
    normalise_number,
    render_steps,
)

SEQUENCE = compile_sequences(
    {
        "s": SequenceSettings(
            timezone="UTC",
            steps=(
                StepSettings(after="0m", template="{Hi|Hello} {{name}} from {{city|here}}"),
                StepSettings(after="1d", variants=("A {a|b}", "B {c|d}", "C {e|f}")),
            ),
        )
    },
    path="test",
)["s"]


@pytest.mark.parametrize("enrollment_id", [0, 1, 42, 1234567])
def test_each_step_renders_as_the_sender_would(enrollment_id: int) -> None:
    variables = {"name": "Ana"}
    previews = render_steps(SEQUENCE, variables, enrollment_id)
    for preview, step in zip(previews, SEQUENCE.steps, strict=True):
        variant = choose_variant(enrollment_id, step.index, len(step.templates))
        seed = f"{enrollment_id}:{step.index}"
        expected = step.templates[variant].render(variables, seed=seed).text
        assert (preview.variant, preview.seed, preview.text) == (variant, seed, expected)
        assert preview.variants == len(step.templates) and not preview.too_long


def test_a_missing_variable_is_named_instead_of_a_text() -> None:
    first, second = render_steps(SEQUENCE, {"name": " "}, 7)
    assert (first.text, first.missing) == (None, ("name",))
    assert second.text is not None and second.missing == ()


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+40 712 345 678", None, "+40712345678"),
        ("0712 345 678", "ro", "+40712345678"),
        ("07400 123456", "GB", "+447400123456"),
    ],
)
def test_numbers_are_read_like_an_import(text: str, region: str | None, expected: str) -> None:
    assert normalise_number(text, region) == expected


@pytest.mark.parametrize(
    ("text", "region", "message"),
    [
        ("0712 345 678", None, "no country code"),
        ("12", "RO", "not a valid"),
        ("", None, "no phone"),
    ],
)
def test_a_bad_number_says_why(text: str, region: str | None, message: str) -> None:
    with pytest.raises(SequencesError, match=message):
        normalise_number(text, region)
