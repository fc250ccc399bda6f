"""``outreach simulator ...``: a local TimelinesAI for demos and end-to-end tests."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.context import console

if TYPE_CHECKING:
    from engine.timelinesai.simulator import SimulatorConfig

app = typer.Typer(
    help="Run a local stand-in for TimelinesAI (same API, faults, leads, webhooks).",
    no_args_is_help=True,
)


@app.callback()
def simulator() -> None:
    """Run a local stand-in for TimelinesAI (same API, faults, leads, webhooks)."""


_FAULTS = "Faults"
_LEADS = "Leads and webhooks"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _accounts_from(path: Path) -> dict[str, Any]:
    """The phones and clock of an outreach config, so the engine and simulator agree."""
    from engine.settings import load_settings

    settings = load_settings(path, os.environ)
    accounts = [{"phone": phone.phone, "jid": phone.account_id} for phone in settings.phones]
    return {"accounts": accounts, "speed": settings.clock.speed, "epoch": settings.clock.epoch}


def build_config(config_file: Path | None, options: dict[str, Any]) -> SimulatorConfig:
    """The file's settings (if any) with the given command-line ``options`` on top."""
    from engine.timelinesai.simulator import config_from_mapping, load_config

    if config_file is not None:
        return load_config(config_file, options)
    return config_from_mapping(options, source="command line")


@app.command()
def serve(
    *,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Simulator settings (.toml or .json).", dir_okay=False),
    ] = None,
    accounts_from: Annotated[
        Path | None,
        typer.Option(help="Take accounts, speed and epoch from an outreach config file."),
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option(help="Append every request as a JSON line to this file.")
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="Clock speed-up; match the engine's clock speed.")
    ] = None,
    epoch: Annotated[
        str | None, typer.Option(help="Clock epoch shared with the engine (ISO 8601).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for repeatable runs.")] = None,
    token: Annotated[
        str | None, typer.Option(help="Accept only this token (others get 401).")
    ] = None,
    latency_ms: Annotated[
        float | None, typer.Option(help="Latency of every answer.", rich_help_panel=_FAULTS)
    ] = None,
    error_rate: Annotated[
        float | None, typer.Option(help="Share of answers that are 500.", rich_help_panel=_FAULTS)
    ] = None,
    rate_limit_per_minute: Annotated[
        int | None, typer.Option(help="429 past this many calls a minute.", rich_help_panel=_FAULTS)
    ] = None,
    timeout_rate: Annotated[
        float | None,
        typer.Option(help="Share of sends recorded but not answered.", rich_help_panel=_FAULTS),
    ] = None,
    invalid_pattern: Annotated[
        str | None,
        typer.Option(help="Recipients matching this regex are invalid.", rich_help_panel=_FAULTS),
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where to post webhook events.", rich_help_panel=_LEADS)
    ] = None,
    reply_probability: Annotated[
        float | None, typer.Option(help="Chance a lead replies to a send.", rich_help_panel=_LEADS)
    ] = None,
    opt_out_probability: Annotated[
        float | None, typer.Option(help="Share of replies that opt out.", rich_help_panel=_LEADS)
    ] = None,
    payload_form: Annotated[
        str | None, typer.Option(help="Webhook bodies: nested or flat.", rich_help_panel=_LEADS)
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Allow listening on a non-loopback address.")
    ] = False,
) -> None:
    """Serve the simulated TimelinesAI API until interrupted (Ctrl-C)."""
    from engine.timelinesai.simulator import serve as serve_simulator
    from engine.timelinesai.timestamps import parse_timestamp

    if not allow_remote and not _is_loopback(host):
        raise typer.BadParameter(f"{host} is not a loopback address; add --allow-remote")
    options: dict[str, Any] = _accounts_from(accounts_from) if accounts_from else {}
    given = {
        "speed": speed,
        "epoch": parse_timestamp(epoch) if epoch else None,
        "seed": seed,
        "token": token,
        "latency_ms": latency_ms,
        "error_rate": error_rate,
        "rate_limit_per_minute": rate_limit_per_minute,
        "timeout_after_record_rate": timeout_rate,
        "invalid_recipient_pattern": invalid_pattern,
        "webhook_url": webhook_url,
        "reply_probability": reply_probability,
        "opt_out_probability": opt_out_probability,
        "payload_form": payload_form,
    }
    options |= {name: value for name, value in given.items() if value is not None}
    settings = build_config(config, options)
    console().print(
        f"TimelinesAI simulator: base URL http://{host}:{port}/integrations/api, "
        f"admin http://{host}:{port}/_sim, {len(settings.accounts)} accounts, "
        f"speed {settings.speed:g}",
        soft_wrap=True,
    )
    serve_simulator(settings, host=host, port=port, log_file=log_file)
