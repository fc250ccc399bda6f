"""The app a command runs with holds only that command, built exactly as in the full app;
help, ``--version`` and anything unclear get the full app."""

from __future__ import annotations

import click
import pytest
import typer

from cli.main import COMMANDS, build_app, command_named


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


def _tree(command: click.Command) -> object:
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
