"""Sequence definitions: the TOML tables as the loader fills them, compiled or refused by key."""

from __future__ import annotations

import tomllib
from datetime import date, time
from typing import Any

import pytest

from engine.config_loader import load_dataclass
from engine.errors import ConfigError
from sequences import (
    ASSUMED_VARIABLE_LENGTH,
    MAX_MESSAGE_LENGTH,
    SendWindow,
    Sequence,
    SequenceSettings,
    compile_sequences,
    missing_variables,
)
from sequences.syntax import parse_days, parse_duration_s, parse_end_time, parse_time

INTRO = """
timezone = "lead"
send_window = { days = "mon-fri", start = "09:00", end = "18:00" }

[[steps]]
after = "0m"
template = "{Hi|Hello} {{name|there}}, a question about {{company}}?"

[[steps]]
after = "2d"
variants = ["Any thoughts, {{name|there}}?", "{Just|Only} checking in."]
media_url = "https://example.com/brochure.pdf"
"""


def raw(toml: str, key: str = "sequences.intro") -> SequenceSettings:
    return load_dataclass(SequenceSettings, tomllib.loads(toml), path="config.toml", key=key)


def compile_one(toml: str) -> Sequence:
    return compile_sequences({"intro": raw(toml)}, path="config.toml")["intro"]


def test_a_full_definition_compiles() -> None:
    sequence = compile_one(INTRO)
    assert sequence.name == "intro"
    assert sequence.timezone == "lead"
    assert sequence.stop_on_reply is True
    assert sequence.window == SendWindow(frozenset(range(5)), time(9), time(18))
    first, second = sequence.steps
    assert (first.index, first.after_s, len(first.templates), first.media_url) == (0, 0, 1, None)
    assert first.sources == ("{Hi|Hello} {{name|there}}, a question about {{company}}?",)
    assert (second.index, second.after_s, len(second.templates)) == (1, 172_800, 2)
    assert second.media_url == "https://example.com/brochure.pdf"
    assert first.required_variables == {"company"}
    assert second.required_variables == frozenset()
    assert sequence.required_variables == {"company"}


def test_defaults_any_time_and_stop_on_reply() -> None:
    sequence = compile_one('[[steps]]\ntemplate = "Hi"\n')
    assert (sequence.timezone, sequence.window, sequence.stop_on_reply) == ("lead", None, True)
    assert sequence.steps[0].after_s == 0


def test_holidays_are_skipped_by_default_and_skip_dates_are_dates() -> None:
    assert compile_one('[[steps]]\ntemplate = "Hi"\n').skip_holidays
    sequence = compile_one(
        'skip_holidays = false\nskip_dates = ["2026-12-24", " 2026-12-31 ", "2026-12-24"]\n'
        '[[steps]]\ntemplate = "Hi"\n'
    )
    assert not sequence.skip_holidays
    assert sequence.skip_dates == {date(2026, 12, 24), date(2026, 12, 31)}


def test_a_window_with_defaults_is_the_whole_week() -> None:
    sequence = compile_one('send_window = {}\n[[steps]]\ntemplate = "Hi"\n')
    assert sequence.window == SendWindow(frozenset(range(7)), time(0), None)


def test_unknown_keys_are_refused_by_the_loader_with_the_dotted_key() -> None:
    with pytest.raises(ConfigError, match=r"sequences\.intro\.steps\[0\]\.templte.*'template'"):
        raw('[[steps]]\ntemplte = "Hi"\n')


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ('[[steps]]\ntemplate = "{Hi|Hello"\n', "steps[0].template", r"line 1, column"),
        (
            '[[steps]]\ntemplate = "Hi"\n[[steps]]\nafter = "1d"\ntemplate = "x\\n{{a|{b}}"\n',
            "steps[1].template",
            r"does not parse: .* line 2, column",
        ),
        (
            '[[steps]]\nvariants = ["ok", "{bad"]\n',
            "steps[0].variants[1]",
            "does not parse",
        ),
        ('[[steps]]\ntemplate = "a"\nvariants = ["b"]\n', "steps[0].variants", "not both"),
        ('[[steps]]\nafter = "1m"\n', "steps[0]", "add template"),
        ("[[steps]]\nvariants = []\n", "steps[0].variants", "is empty"),
        ('[[steps]]\ntemplate = "  "\n', "steps[0].template", "empty"),
        ('[[steps]]\ntemplate = "Hi {{First_Name}}"\n', "steps[0].template", "first_name"),
        ('[[steps]]\ntemplate = "Hi"\nmedia_url = "ftp://x/y"\n', "steps[0].media_url", "http"),
        ('[[steps]]\nafter = "2 days"\ntemplate = "Hi"\n', "steps[0].after", "unit s, m, h"),
        ('[[steps]]\nafter = "-1h"\ntemplate = "Hi"\n', "steps[0].after", "not a duration"),
        (
            '[[steps]]\ntemplate = "Hi"\n[[steps]]\nafter = "0h"\ntemplate = "Again"\n',
            "steps[1].after",
            "positive delay",
        ),
        ('timezone = "Mars/Olympus"\n[[steps]]\ntemplate = "Hi"\n', "timezone", "IANA"),
        ("steps = []\n", "steps", "at least one step"),
        ("stop_on_reply = false\n", "steps", "at least one step"),
        (
            'send_window = { days = "mon-fry" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.days",
            "list of days",
        ),
        (
            'send_window = { start = "9am" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.start",
            "HH:MM",
        ),
        (
            'send_window = { start = "24:00" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.start",
            "23:59",
        ),
        (
            'send_window = { end = "24:30" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.end",
            "24:00",
        ),
        (
            'send_window = { start = "22:00", end = "06:00" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.end",
            "cross midnight",
        ),
        (
            'send_window = { start = "09:00", end = "09:00" }\n[[steps]]\ntemplate = "Hi"\n',
            "send_window.end",
            "not after start",
        ),
        (
            'skip_dates = ["2026-12-24", "24.12.2026"]\n[[steps]]\ntemplate = "Hi"\n',
            "skip_dates[1]",
            "not a date; write YYYY-MM-DD",
        ),
        (
            'skip_dates = ["2026-02-30"]\n[[steps]]\ntemplate = "Hi"\n',
            "skip_dates[0]",
            "not a date",
        ),
        ('skip_dates = [2026-12-24]\n[[steps]]\ntemplate = "Hi"\n', "skip_dates[0]", "string"),
        ('skip_dates = "2026-12-24"\n[[steps]]\ntemplate = "Hi"\n', "skip_dates", "a list"),
        ('skip_holidays = "no"\n[[steps]]\ntemplate = "Hi"\n', "skip_holidays", "true or false"),
        (
            'on_company_reply = "hold"\n[[steps]]\ntemplate = "Hi"\n',
            "on_company_reply",
            "'pause', 'stop', 'continue'",
        ),
    ],
)
def test_mistakes_name_the_key(toml: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        compile_one(toml)
    assert caught.value.key == f"sequences.intro.{key}"
    assert caught.value.path == "config.toml"
    assert str(caught.value).startswith(f"config.toml: sequences.intro.{key}: ")


def test_the_spintax_error_position_is_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        compile_one('[[steps]]\ntemplate = "Hello {there|you"\n')
    assert "line 1, column 7" in str(caught.value)


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "intro!"])
def test_sequence_names_are_short_identifiers(name: str) -> None:
    settings = raw('[[steps]]\ntemplate = "Hi"\n')
    with pytest.raises(ConfigError, match="sequence name") as caught:
        compile_sequences({name: settings}, path="config.toml")
    assert caught.value.key == f"sequences.{name}"


def test_several_sequences_compile_by_name() -> None:
    settings = raw('[[steps]]\ntemplate = "Hi"\n')
    compiled = compile_sequences({"intro": settings, "re-engage_2": settings}, path="c.toml")
    assert sorted(compiled) == ["intro", "re-engage_2"]
    assert compiled["re-engage_2"].name == "re-engage_2"


def text_of_length(length: int, *, variables: int = 0) -> str:
    placeholders = "{{v%d}}" * variables % tuple(range(variables))
    return "x" * (length - variables * ASSUMED_VARIABLE_LENGTH) + placeholders


@pytest.mark.parametrize(
    ("source", "fits"),
    [
        (text_of_length(MAX_MESSAGE_LENGTH), True),
        (text_of_length(MAX_MESSAGE_LENGTH + 1), False),
        (text_of_length(MAX_MESSAGE_LENGTH, variables=3), True),
        (text_of_length(MAX_MESSAGE_LENGTH + 1, variables=3), False),
        # The longest option counts, not the first.
        ("{a|" + "y" * MAX_MESSAGE_LENGTH + "}", True),
        ("{a|" + "y" * (MAX_MESSAGE_LENGTH + 1) + "}", False),
        # A fallback longer than the assumed length counts at its own length.
        ("{{v|" + "f" * MAX_MESSAGE_LENGTH + "}}", True),
        ("z{{v|" + "f" * MAX_MESSAGE_LENGTH + "}}", False),
    ],
)
def test_the_longest_possible_message_must_fit(source: str, fits: bool) -> None:
    toml = f'[[steps]]\ntemplate = "{source}"\n'
    if fits:
        compile_one(toml)
        return
    with pytest.raises(ConfigError, match=f"over the {MAX_MESSAGE_LENGTH}-character limit"):
        compile_one(toml)


def test_a_media_step_may_have_no_text() -> None:
    sequence = compile_one('[[steps]]\ntemplate = ""\nmedia_url = "https://x.example/a.jpg"\n')
    assert sequence.steps[0].sources == ("",)


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({"company": "Acme", "city": "Cluj"}, set()),
        ({"company": "Acme"}, {"city"}),
        ({"company": "  ", "city": "Cluj"}, {"company"}),
        ({"company": "", "city": ""}, {"company", "city"}),
        ({}, {"company", "city"}),
        # ``name`` has a fallback everywhere, so it is never required.
        ({"name": "Ana"}, {"company", "city"}),
    ],
)
def test_missing_variables_cover_every_step_and_variant(
    variables: dict[str, str], missing: set[str]
) -> None:
    sequence = compile_one(
        '[[steps]]\ntemplate = "Hi {{name|there}} at {{company}}"\n'
        '[[steps]]\nafter = "1d"\nvariants = ["{{name|Hey}}", "How is {{city}}?"]\n'
    )
    assert missing_variables(sequence, variables) == missing


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0m", 0),
        ("90s", 90),
        ("15m", 900),
        ("2h", 7_200),
        ("1.5h", 5_400),
        ("2d", 172_800),
        (" 3d ", 259_200),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "d", "2w", "1,5h", "2 d", "-1m", "1e3s", "2D"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_s(text)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,wed,fri", {0, 2, 4}),
        ("sat-sun", {5, 6}),
        ("daily", set(range(7))),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("mon-sun", set(range(7))),
        ("Mon - Wed, Fri", {0, 1, 2, 4}),
        ("fri-mon", {4, 5, 6, 0}),
        ("thu", {3}),
    ],
)
def test_days(text: str, days: set[int]) -> None:
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["", "monday", "mon-", "mon,,fri", "1-5", "mon-fri-sat"])
def test_bad_days(text: str) -> None:
    with pytest.raises(ValueError, match="not a list of days"):
        parse_days(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00", time(9)), ("9:05", time(9, 5)), ("00:00", time(0)), ("23:59", time(23, 59))],
)
def test_times(text: str, expected: time) -> None:
    assert parse_time(text) == expected
    assert parse_end_time(text) == expected


def test_end_of_day() -> None:
    assert parse_end_time("24:00") is None
    with pytest.raises(ValueError, match="23:59"):
        parse_time("24:00")


@pytest.mark.parametrize("text", ["", "9", "09:60", "25:00", "09:00:00", "9h", "-1:00"])
def test_bad_times(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text)
    with pytest.raises(ValueError, match="not a time"):
        parse_end_time(text)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((frozenset(), time(9), time(17)), "non-empty"),
        ((frozenset({7}), time(9), time(17)), "weekdays"),
        ((frozenset({0}), time(17), time(9)), "before end"),
    ],
)
def test_a_send_window_refuses_nonsense(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow(*arguments)


@pytest.mark.parametrize("choice", ["pause", "stop", "continue"])
def test_on_company_reply_takes_its_three_choices(choice: str) -> None:
    compile_one(f'on_company_reply = "{choice}"\n[[steps]]\ntemplate = "Hi"\n')
