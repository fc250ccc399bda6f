"""The syntax: what each construct renders, and the error and its place for each malformed one."""

from __future__ import annotations

import pickle

import pytest

from spintax import MissingVariableError, SpintaxError, parse

VALUES = {"name": "Ana", "lead.first_name": "Bo", "имя": "Иван", "blank": "  ", "empty": ""}


def all_texts(source: str, values: dict[str, str] | None = None, seeds: int = 300) -> set[str]:
    """Every text ``source`` renders over many seeds (enough to see all of a few variants)."""
    template = parse(source)
    return {template.render(values or VALUES, seed=seed).text for seed in range(seeds)}


@pytest.mark.parametrize(
    ("source", "texts"),
    [
        pytest.param("plain text", {"plain text"}, id="text"),
        pytest.param("", {""}, id="empty-template"),
        pytest.param("{a|b|c}", {"a", "b", "c"}, id="choice"),
        pytest.param(
            "{Hi|Hello {there|friend}}", {"Hi", "Hello there", "Hello friend"}, id="nested"
        ),
        pytest.param("{a|{b|{c|d}}}!", {"a!", "b!", "c!", "d!"}, id="three-levels"),
        pytest.param("{Hi |}there", {"Hi there", "there"}, id="empty-option"),
        pytest.param("{|}", {""}, id="two-empty-options"),
        pytest.param("{a}", {"a"}, id="single-option"),
        pytest.param("x{}y", {"xy"}, id="empty-braces-one-empty-option"),
        pytest.param("{{name}}", {"Ana"}, id="variable"),
        pytest.param("{{ name }}", {"Ana"}, id="variable-spaces-around-name"),
        pytest.param("{{lead.first_name}}", {"Bo"}, id="variable-dotted"),
        pytest.param("{{имя}}", {"Иван"}, id="variable-any-script"),
        pytest.param("{{missing|friend}}", {"friend"}, id="fallback-missing"),
        pytest.param("{{blank|friend}}", {"friend"}, id="fallback-whitespace-is-blank"),
        pytest.param("{{empty|friend}}", {"friend"}, id="fallback-empty-is-blank"),
        pytest.param("{{name|friend}}", {"Ana"}, id="fallback-unused"),
        pytest.param("{{missing|{a|b}}}", {"a", "b"}, id="fallback-spintax"),
        pytest.param("[{{missing|}}]", {"[]"}, id="empty-fallback"),
        pytest.param("{{missing|{{name}}}}", {"Ana"}, id="fallback-variable"),
        pytest.param("{{{name}}|there}", {"Ana", "there"}, id="option-starts-with-variable"),
        pytest.param("{{{{name}}|x}|y}", {"Ana", "x", "y"}, id="brace-run"),
        pytest.param("{x|{{name}}}", {"x", "Ana"}, id="option-ends-with-variable"),
        pytest.param("{{missing|{b|{{name}}}}}", {"b", "Ana"}, id="closing-run"),
        pytest.param("\\{\\}\\|\\\\", {"{}|\\"}, id="escapes"),
        pytest.param("{\\{|\\}}", {"{", "}"}, id="escapes-in-options"),
        pytest.param("{{missing|a\\|b\\}}}", {"a|b}"}, id="escapes-in-fallback"),
        pytest.param(" a \n\t{b | c}\r\n ", {" a \n\tb \r\n ", " a \n\t c\r\n "}, id="spaces"),
        pytest.param(
            "100% {ok|sure} :) [x] (y) $z",
            {"100% ok :) [x] (y) $z", "100% sure :) [x] (y) $z"},
            id="other-punctuation",
        ),
    ],
)
def test_syntax_renders(source: str, texts: set[str]) -> None:
    assert all_texts(source) == texts


def test_variable_value_is_inserted_literally() -> None:
    values = {"name": "{a|b} {{x}} \\ |"}
    assert all_texts("Hi {{name}}", values) == {"Hi {a|b} {{x}} \\ |"}


@pytest.mark.parametrize(
    ("source", "reason", "position", "line", "column"),
    [
        pytest.param("{a|b", "unbalanced '{'", 0, 1, 1, id="unclosed-choice"),
        pytest.param("x {a|{b|c}", "unbalanced '{'", 2, 1, 3, id="unclosed-outer-choice"),
        pytest.param("a}", "unbalanced '}'", 1, 1, 2, id="stray-close"),
        pytest.param("{a|b}}", "unbalanced '}'", 5, 1, 6, id="extra-close"),
        pytest.param("a|b", "'|' outside braces", 1, 1, 2, id="bar-outside"),
        pytest.param("{{name", "unclosed '{{'", 0, 1, 1, id="unclosed-variable"),
        pytest.param("Hi {{name}", "unclosed '{{'", 3, 1, 4, id="variable-single-close"),
        pytest.param("{{name|fallback", "unclosed '{{'", 0, 1, 1, id="unclosed-fallback"),
        pytest.param("{{", "unclosed '{{'", 0, 1, 1, id="bare-opener"),
        pytest.param("{{}}", "empty variable name", 0, 1, 1, id="empty-name"),
        pytest.param("x {{  }}", "empty variable name", 2, 1, 3, id="blank-name"),
        pytest.param("{{|x}}", "empty variable name", 0, 1, 1, id="empty-name-fallback"),
        pytest.param("\\n", "unknown escape '\\n'", 0, 1, 1, id="unknown-escape"),
        pytest.param("a\\", "unknown escape '\\' at the end", 1, 1, 2, id="dangling-backslash"),
        pytest.param("¯\\_(ツ)_/¯", "unknown escape '\\_'", 1, 1, 2, id="shrug-needs-escaping"),
        pytest.param("a\\\nb", "unknown escape", 1, 1, 2, id="escaped-newline"),
        pytest.param("{{first name}}", "space inside a variable name", 7, 1, 8, id="space"),
        pytest.param("{{first-name}}", "invalid character '-'", 7, 1, 8, id="bad-char"),
        pytest.param("{{ {a|b}}}", "invalid character '{'", 3, 1, 4, id="brace-in-name"),
        pytest.param("{{a|b|c}}", "'|' in the fallback of {{a}}", 5, 1, 6, id="bar-fallback"),
        pytest.param("{{a|b}c}}", "single '}' in the fallback", 5, 1, 6, id="single-close"),
        pytest.param("{{a|b}", "single '}' in the fallback", 5, 1, 6, id="fallback-one-close"),
        pytest.param("{{a|b} c|d}", "single '}' in the fallback", 5, 1, 6, id="nested-first"),
        pytest.param("Hi\n{there", "unbalanced '{'", 3, 2, 1, id="second-line"),
        pytest.param("one\ntwo\nthree }", "unbalanced '}'", 14, 3, 7, id="third-line"),
        pytest.param("{x" * 101 + "}" * 101, "nesting deeper than 100", 200, 1, 201, id="deep"),
        pytest.param("{{a|" * 101, "nesting deeper than 100", 400, 1, 401, id="deep-fallback"),
    ],
)
def test_syntax_errors(source: str, reason: str, position: int, line: int, column: int) -> None:
    with pytest.raises(SpintaxError) as caught:
        parse(source)
    error = caught.value
    assert reason in error.reason
    assert (error.position, error.line, error.column) == (position, line, column)
    assert str(error) == f"{error.reason} (line {line}, column {column})"
    assert isinstance(error, ValueError)
    assert not isinstance(error, MissingVariableError)


def test_nesting_up_to_the_limit_parses_counts_and_renders() -> None:
    assert parse("{x" * 100 + "}" * 100).render({}, seed=0).text == "x" * 100
    choices = parse("{x|" * 100 + "}" * 100)
    assert choices.count_variants() == 101
    assert choices.max_length() == 1
    assert set(choices.render({}, seed=1).text) <= {"x"}
    fallbacks = parse("{{a|" * 100 + "end" + "}}" * 100)
    assert fallbacks.render({}, seed=0).text == "end"
    assert fallbacks.max_length({}) == 3
    assert fallbacks.required_variables == frozenset()


@pytest.mark.parametrize(
    "error",
    [
        SpintaxError("unbalanced '{'", 4, 2, 1),
        MissingVariableError(("first_name", "company"), 7, 1, 8),
    ],
    ids=["syntax", "missing"],
)
def test_errors_pickle(error: SpintaxError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (str(copy), copy.position, copy.line, copy.column) == (
        str(error),
        error.position,
        error.line,
        error.column,
    )
    if isinstance(error, MissingVariableError):
        assert isinstance(copy, MissingVariableError)
        assert (copy.name, copy.names) == ("first_name", ("first_name", "company"))
