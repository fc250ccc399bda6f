"""``outreach spintax preview`` and ``check``, driven through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.spintax_cmd import app
from spintax import parse

runner = CliRunner()
TEMPLATE = "{Hi|Hello} {{first_name|there}}, {{company}} {a|b|c}"


def test_preview_prints_renderings_and_variant_count() -> None:
    result = runner.invoke(app, ["preview", TEMPLATE, "--var", "company=Acme", "-n", "3"])
    assert result.exit_code == 0, result.output
    blocks = result.stdout.strip().split("\n\n")
    assert len(blocks) == 4
    assert blocks[0].splitlines()[0].startswith("#1  seed 'preview'  variant ")
    assert blocks[1].splitlines()[0].startswith("#2  seed 'preview:1'")
    template = parse(TEMPLATE)
    expected = template.render({"company": "Acme"}, seed="preview:2").text
    assert blocks[2].splitlines()[1] == expected
    assert blocks[3] == "6 variants; longest rendering 19 characters with these values"


def test_preview_seed_reproduces_an_engine_send() -> None:
    result = runner.invoke(
        app,
        [
            "preview",
            TEMPLATE,
            "--var",
            "company=Acme",
            "--var",
            "first_name=Ana",
            "-n",
            "1",
            "--seed",
            "42:1",
        ],
    )
    assert result.exit_code == 0, result.output
    values = {"company": "Acme", "first_name": "Ana"}
    assert parse(TEMPLATE).render(values, seed="42:1").text in result.stdout.splitlines()


def test_preview_prints_template_text_verbatim() -> None:
    # Rich markup, emoji codes and highlighting must not touch the message.
    source = "[bold]x[/bold] :smile: \\{1\\} 2024-01-01"
    result = runner.invoke(app, ["preview", source, "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "[bold]x[/bold] :smile: {1} 2024-01-01" in result.stdout.splitlines()


def test_preview_malformed_var_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["preview", TEMPLATE, "--var", "company"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --var 'company' is not KEY=VALUE (e.g. --var first_name=Ana)"
    ]


def test_preview_missing_variable_names_it() -> None:
    result = runner.invoke(app, ["preview", TEMPLATE])
    assert result.exit_code == 1
    assert "missing required variable 'company'" in result.stderr
    assert "hint: pass --var company=VALUE" in result.stderr
    assert result.stdout == ""


def test_preview_syntax_error_is_reported_like_check() -> None:
    result = runner.invoke(app, ["preview", "{oops"])
    assert result.exit_code == 1
    assert "line 1, column 1: error: unbalanced '{'" in result.stderr


@pytest.mark.parametrize("option", ["-n", "--count"])
def test_preview_count_must_be_positive(option: str) -> None:
    assert runner.invoke(app, ["preview", "x", option, "0"]).exit_code == 2


def test_preview_warns_when_a_rendering_could_exceed_the_message_limit() -> None:
    result = runner.invoke(app, ["preview", "{short|" + "x" * 2001 + "}", "-n", "1"])
    assert result.exit_code == 0, result.output
    assert "warning: some renderings exceed the 2,000-character message limit" in result.stderr
    ok = runner.invoke(app, ["preview", "{short|" + "x" * 2000 + "}", "-n", "1"])
    assert "warning" not in ok.stderr


def test_check_ok_reports_variants_and_variables() -> None:
    result = runner.invoke(app, ["check", TEMPLATE])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "OK: 6 variants; variables: required: company; optional: first_name"
    )


def test_check_error_points_a_caret_at_the_problem() -> None:
    result = runner.invoke(app, ["check", "first line\n\tHi {{first name}} there"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 2, column 12: error: space inside a variable name",
        "2 |         Hi {{first name}} there",
        "  | " + " " * 18 + "^",
    ]


def test_check_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "step1.txt"
    path.write_text("Hello {there|friend\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"{path}:1:7: error: unbalanced '{{'")
    assert result.stderr.splitlines()[2] == "  |       ^"


def test_check_reads_standard_input() -> None:
    result = runner.invoke(app, ["check", "-"], input="{a|b}\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 2 variants")


def test_check_unreadable_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_check_long_line_is_cut_around_the_caret() -> None:
    result = runner.invoke(app, ["check", "x" * 500 + "}" + "y" * 500])
    assert result.exit_code == 1
    line, caret = result.stderr.splitlines()[1:3]
    assert line.startswith("1 | …") and line.endswith("…")
    assert len(line) < 90
    assert line[caret.index("^")] == "}"


@pytest.mark.parametrize(
    ("source", "count"),
    [
        ("{a|b}" * 20000, "3.98e+6020 variants"),
        ("{a|b|c|d|e|f|g|h|i|j}" * 15, "1.00e+15 variants"),
        ("{a|b|c|d|e|f|g|h|i|j}" * 14 + "{a|b|c|d|e|f|g|h|i}", "900,000,000,000,000 variants"),
        ("x", "1 variant;"),
    ],
)
def test_check_variant_count_is_readable(source: str, count: str) -> None:
    result = runner.invoke(app, ["check", source])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK: {count}")


@pytest.mark.parametrize("args", [[], ["--help"], ["preview", "--help"], ["check", "--help"]])
def test_help(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert "Usage" in result.output
    assert result.exit_code == (2 if not args else 0)
