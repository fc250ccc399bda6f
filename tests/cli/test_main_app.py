"""The app a command runs with holds only that command, built exactly as in the full app;
help, ``--version`` and anything unclear get the full app."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from cli.main import COMMANDS, ROOT_OPTIONS_WITH_VALUE, build_app, command_named


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["status"], "status"),
        (["phones", "list", "--config", "c.toml"], "phones"),
        (["--log-format", "json", "worker"], "worker"),
        (["--log-format=json", "campaign", "status"], "campaign"),
        (["--log-format", "status"], None),  # "status" is the option's value: no command
        ([], None),
        (["--help"], None),
        (["--help", "status"], None),
        (["--version"], None),
        (["stauts"], None),  # the full app suggests "status"
        (["--no-such-option", "status"], None),
    ],
)
def test_the_command_named(argv: list[str], named: str | None) -> None:
    assert command_named(argv) == named


def _tree(command: Any) -> object:
    """A command's shape: its parameters (name, flags, help) and its subcommands'."""
    params = [(p.name, tuple(p.opts), getattr(p, "help", None)) for p in command.params]
    children = getattr(command, "commands", {})
    return (command.help, params, {name: _tree(child) for name, child in children.items()})


def test_a_command_alone_is_the_command_in_the_full_app() -> None:
    full = typer.main.get_group(build_app())
    assert sorted(full.commands) == sorted(COMMANDS)
    for name in COMMANDS:
        alone = typer.main.get_group(build_app(name))
        assert list(alone.commands) == [name]
        assert _tree(alone.commands[name]) == _tree(full.commands[name]), name
        assert [p.name for p in alone.params] == [p.name for p in full.params]


def test_the_root_options_with_a_value_are_the_roots() -> None:
    """A root option added with a value but not listed would read its value as a command."""
    root = typer.main.get_group(build_app())
    with_value = {
        opt
        for param in root.params
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for opt in param.opts
    }
    assert with_value == ROOT_OPTIONS_WITH_VALUE
