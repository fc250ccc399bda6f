"""``outreach simulator serve``: a real process a client can talk to."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.simulator_cmd import app, build_config
from engine.timelinesai import TimelinesAIClient

OUTREACH_CONFIG = """
[[phones]]
id = "01"
phone = "+447700900001"
account_id = "447700900001@s.whatsapp.net"

[[phones]]
id = "02"
phone = "+447700900002"

[clock]
speed = 50.0
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited"
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    raise AssertionError("the simulator did not come up")


def test_serve_runs_a_simulator_a_client_can_use(tmp_path: Path) -> None:
    settings = tmp_path / "config.toml"
    settings.write_text(OUTREACH_CONFIG)
    log_file = tmp_path / "requests.jsonl"
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from cli.simulator_cmd import app; app()",
        "serve",
        f"--port={port}",
        f"--accounts-from={settings}",
        f"--log-file={log_file}",
        "--seed=1",
        "--token=cli-token",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        root = f"http://127.0.0.1:{port}"
        wait_until_up(root + "/_sim/config", process)
        assert httpx.get(root + "/_sim/config").json()["speed"] == 50.0
        with TimelinesAIClient(root + "/integrations/api", "cli-token") as client:
            accounts = client.whatsapp_accounts()
            assert [(a.phone, a.id) for a in accounts] == [
                ("+447700900001", "447700900001@s.whatsapp.net"),
                ("+447700900002", "447700900002@s.whatsapp.net"),
            ]
            sent = client.send_message(phone="+40712345678", text="Hi", from_phone="+447700900002")
            [chat] = client.find_chats(phone="+40712345678")
            assert [m.uid for m in client.iter_chat_messages(chat.id)] == [sent.message_uid]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    # Interrupted like Ctrl-C: uvicorn stops cleanly and exits as interrupted.
    assert process.returncode in (0, 130), output.decode()
    # uvicorn's access log masks the lead's number in the query string.
    assert b"GET /integrations/api/chats?phone=" in output
    assert b"40712345678" not in output
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [entry["path"] for entry in logged] == [
        "/whatsapp_accounts",
        "/messages",
        "/chats",
        f"/chats/{chat.id}/messages",
    ]


def test_serve_stays_on_loopback_unless_told() -> None:
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "not a loopback address" in result.output


def test_options_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text("error_rate = 0.3\nseed = 4\n")
    config = build_config(path, {"error_rate": 0.0})
    assert (config.error_rate, config.seed) == (0.0, 4)
    assert build_config(None, {"speed": 5.0}).speed == 5.0


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_hosts(host: str) -> None:
    from cli.simulator_cmd import _is_loopback

    assert _is_loopback(host)
