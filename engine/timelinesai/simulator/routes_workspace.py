"""The simulated API's accounts, files, quotas and webhook subscriptions."""

from __future__ import annotations

import mimetypes
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from posixpath import basename
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from engine.timelinesai.simulator.core import Simulator
from engine.timelinesai.simulator.dependencies import Sim
from engine.timelinesai.simulator.payloads import account_json, file_json, ok
from engine.timelinesai.simulator.records import ApiError

# TimelinesAI's help centre figure for API calls a month.
MONTHLY_API_CALLS = 200_000

router = APIRouter()


class FileByUrlBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    download_url: str
    filename: str | None = None
    content_type: str | None = None


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: str
    url: str
    enabled: bool = True


class WebhookChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: str | None = None
    url: str | None = None
    enabled: bool | None = None


def _mimetype(filename: str, given: str | None) -> str:
    return given or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def parse_form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (file name, content)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    form: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not form.is_multipart():
        raise ApiError(400, "expected a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in form.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str):
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


@router.get("/whatsapp_accounts")
async def whatsapp_accounts(sim: Sim) -> dict[str, Any]:
    accounts = [account_json(account, sim.config) for account in sim.workspace.accounts.values()]
    return ok({"whatsapp_accounts": accounts})


@router.post("/files")
async def upload_by_url(body: FileByUrlBody, sim: Sim) -> dict[str, Any]:
    # The simulator downloads nothing: the file is described, not fetched.
    filename = body.filename or basename(urlsplit(body.download_url).path) or "file"
    record = sim.workspace.add_file(filename, 0, _mimetype(filename, body.content_type))
    return ok(file_json(record, sim.config))


@router.get("/files")
async def list_files(sim: Sim, filename: str | None = None) -> dict[str, Any]:
    return ok([file_json(record, sim.config) for record in sim.workspace.find_files(filename)])


@router.get("/files/{file_uid}")
async def get_file(file_uid: str, sim: Sim) -> dict[str, Any]:
    return ok(file_json(sim.workspace.file(file_uid), sim.config))


@router.delete("/files/{file_uid}")
async def delete_file(file_uid: str, sim: Sim) -> dict[str, Any]:
    sim.workspace.delete_file(file_uid)
    return ok(None)


@router.post("/files_upload")
async def upload_bytes(request: Request, sim: Sim) -> dict[str, Any]:
    fields = parse_form(request.headers.get("content-type", ""), await request.body())
    if "file" not in fields:
        raise ApiError(400, "file is required")
    file_name, content = fields["file"]
    if len(content) > sim.config.max_upload_bytes:
        raise ApiError(413, "File is too large")
    named = fields.get("filename", (None, b""))[1].decode() or file_name or "file"
    given_type = fields.get("content_type", (None, b""))[1].decode() or None
    record = sim.workspace.add_file(named, len(content), _mimetype(named, given_type))
    return ok(file_json(record, sim.config))


def _usage(sim: Simulator) -> tuple[int, int, int]:
    """(messages sent ever, messages sent this calendar month, API calls) so far."""
    now = sim.clock.now()
    sent = sum(1 for message in sim.workspace.messages.values() if message.from_me)
    this_month = sum(
        1
        for message in sim.workspace.messages.values()
        if message.from_me
        and (message.created_at.year, message.created_at.month) == (now.year, now.month)
    )
    return sent, this_month, len(sim.log.entries())


@router.get("/workspace")
async def workspace_info(sim: Sim) -> dict[str, Any]:
    # Spec 1.3.0's replacement for the legacy /workspace/quotas (which the engine reads).
    _sent, this_month, calls = _usage(sim)
    return ok(
        {
            "workspace_id": "simulated",
            "display_name": "Simulated workspace",
            "plan": "simulated",
            "messaging_quota": {"total": sim.config.messages_per_month, "used": this_month},
            "api_calls_quota": {"total": MONTHLY_API_CALLS, "used": calls},
        }
    )


@router.get("/workspace/quotas")
async def workspace_quotas(sim: Sim) -> dict[str, Any]:
    # The shape integrations read from TimelinesAI (``messaging_quota: {total, used}``),
    # beside flat figures: the engine reads either (engine.timelinesai.message_quota).
    # Legacy in spec 1.3.0 (superseded by GET /workspace), still answered by TimelinesAI.
    sent, this_month, calls = _usage(sim)
    limit = sim.config.messages_per_month
    return ok(
        {
            "messaging_quota": {"total": limit, "used": this_month},
            "api_calls_quota": {"total": MONTHLY_API_CALLS, "used": calls},
            "api_calls_monthly_limit": MONTHLY_API_CALLS,
            "api_calls_left": max(0, MONTHLY_API_CALLS - calls),
            "messages_monthly_limit": limit,
            "messages_left": max(0, limit - this_month),
            "messages_sent": sent,
        }
    )


@router.get("/webhooks")
async def list_webhooks(sim: Sim) -> dict[str, Any]:
    return ok([item.to_json() for item in sim.workspace.subscriptions.all()])


@router.post("/webhooks")
async def create_webhook(body: WebhookBody, sim: Sim) -> dict[str, Any]:
    created = sim.workspace.subscriptions.create(body.event_type, body.url, body.enabled)
    return ok(created.to_json())


@router.get("/webhooks/{webhook_id}")
async def get_webhook(webhook_id: str, sim: Sim) -> dict[str, Any]:
    return ok(sim.workspace.subscriptions.get(webhook_id).to_json())


@router.put("/webhooks/{webhook_id}")
async def update_webhook(webhook_id: str, body: WebhookChanges, sim: Sim) -> dict[str, Any]:
    updated = sim.workspace.subscriptions.update(
        webhook_id, event_type=body.event_type, url=body.url, enabled=body.enabled
    )
    return ok(updated.to_json())


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(webhook_id: str, sim: Sim) -> dict[str, Any]:
    sim.workspace.subscriptions.delete(webhook_id)
    return ok(None)
