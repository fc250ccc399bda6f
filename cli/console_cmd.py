"""``outreach console``: the web console, and ``console user add|remove|list``."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.context import ConfigOption, console, load, logs, open_database
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.settings import Settings

app = typer.Typer(
    help="The web console: campaigns, phones, leads and replies in a browser.\n\n"
    "With no command it serves the pages until Ctrl-C (loopback by default). Every page "
    "needs a sign-in: add users with `outreach console user add NAME --role operator`, "
    "or set OUTREACH_CONSOLE_PASSWORD for the single user `admin`. Changes to the users "
    "take effect at once in a running console.",
    invoke_without_command=True,
    subcommand_metavar="[user COMMAND]",
)
user_app = typer.Typer(help="Who may sign in to the console.", no_args_is_help=True)
app.add_typer(user_app, name="user")

POOL_SIZE = 5
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"


@app.callback()
def serve(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(help="Bind address. Default: console.host (127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port. Default: console.port (8090).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the web console until Ctrl-C; `console user ...` manages who may sign in.

    With no subcommand it serves the pages (loopback by default). Every page needs a
    sign-in: add users with `outreach console user add NAME --role operator`, or set
    OUTREACH_CONSOLE_PASSWORD for the single user `admin`. Changes to the users take
    effect at once in a running console."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = config
        return
    from console.app import create_app
    from console.users import directory_of, users_path
    from engine.logs import configure_logging
    from engine.runtime import build_clock
    from engine.webhook.serving import bind_listener, serve_app

    settings = load(config)
    directory = directory_of(settings)
    if not len(directory):
        raise ConfigError(
            f"nobody can sign in: add a user with `outreach console user add NAME` "
            f"(writes {users_path(settings)}) or set OUTREACH_CONSOLE_PASSWORD"
        )
    configure_logging(logs(), settings.timelinesai.token)
    bind_host, bind_port = host or settings.console.host, port or settings.console.port
    listener = bind_listener(bind_host, bind_port)
    with open_database(settings, pool_size=POOL_SIZE) as database, listener:
        where = (
            "loopback only: reachable from this machine; put a TLS proxy in front to share it"
            if bind_host in _LOOPBACK
            else "reachable from the network: serve it behind TLS"
        )
        console().print(f"console: http://{bind_host}:{bind_port}/ ({where})", markup=False)
        app = create_app(settings, database, build_clock(settings), directory)
        # Sign-ins are limited per address: an address a local user could write in a
        # header (X-Forwarded-For) would let them dodge it, so the socket's is used.
        serve_app(app, listener, proxy_headers=False)


def _settings(ctx: typer.Context, config: object) -> Settings:
    return load(config or ctx.obj)  # type: ignore[arg-type]


@user_app.command("add")
def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The sign-in name (letters, digits, . _ @ -).")],
    role: Annotated[
        Role | None,
        typer.Option(
            help="viewer: reads; operator: also acts. Default: viewer for a new "
            "user, the current role for an existing one."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Add a user, or change a user's password (and role).

    The password is read from stdin (the first line), so it never shows in the shell's
    history: `outreach console user add ana --role operator < password.txt`, or type it
    at the prompt. A changed password or role signs the user out everywhere."""
    from console.users import Account, hash_password, read_accounts, valid_name, write_accounts

    if not valid_name(name):
        raise typer.BadParameter("use letters, digits and . _ @ - (up to 64)", param_hint="NAME")
    settings = _settings(ctx, config)
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        hashed = hash_password(password)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    from console.users import users_path

    path = users_path(settings)
    accounts = read_accounts(path)
    existing = accounts.get(name)
    chosen = role.value if role is not None else existing.role if existing else Role.viewer.value
    if existing is not None:  # its sessions end first: a failure here changes nothing
        _sign_out(settings, name)
    accounts[name] = Account(name, chosen, hashed)
    write_accounts(path, accounts)
    verb = "updated" if existing else "added"
    console().print(f"{verb} {name} ({chosen}) in {path}", markup=False)


@user_app.command("remove")
def remove_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    config: ConfigOption = None,
) -> None:
    """Remove a user; their open sessions stop working at once."""
    from console.users import read_accounts, users_path, write_accounts

    settings = _settings(ctx, config)
    path = users_path(settings)
    accounts = read_accounts(path)
    if name not in accounts:
        console().print(f"no user {name} in {path}", markup=False)
        raise typer.Exit(1)
    _sign_out(settings, name)
    del accounts[name]
    write_accounts(path, accounts)
    console().print(f"removed {name} from {path}", markup=False)


def _sign_out(settings: Settings, name: str) -> None:
    """End every console session of ``name``."""
    from console.sessions import end_all_of

    with open_database(settings, pool_size=1) as database, database.engine.begin() as connection:
        end_all_of(connection, name)


@user_app.command("list")
def list_users(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The users who may sign in, with their roles (never their hashes)."""
    import json

    from console.users import ADMIN, read_accounts, users_path

    settings = _settings(ctx, config)
    rows = [(a.name, a.role, "users file") for a in read_accounts(users_path(settings)).values()]
    if settings.console.password:
        rows = [r for r in rows if r[0] != ADMIN] + [
            (ADMIN, "operator", "OUTREACH_CONSOLE_PASSWORD")
        ]
    if as_json:
        typer.echo(json.dumps([{"name": n, "role": r, "from": f} for n, r, f in rows], indent=2))
        return
    table = Table("Name", "Role", "From")
    for row in sorted(rows):
        table.add_row(*row)
    console().print(table)
