"""The simulated API's sends, chats and messages, as documented for TimelinesAI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from engine.timelinesai.simulator.core import Simulator
from engine.timelinesai.simulator.dependencies import Sim
from engine.timelinesai.simulator.middleware import ENTRY_KEY
from engine.timelinesai.simulator.payloads import (
    chat_json,
    message_json,
    ok,
    status_history_json,
)
from engine.timelinesai.simulator.records import ApiError, MessageRecord
from engine.timelinesai.simulator.requestlog import LoggedRequest
from engine.timelinesai.timestamps import parse_timestamp

PAGE_SIZE = 50

router = APIRouter()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SendBody(_Body):
    phone: str
    whatsapp_account_phone: str | None = None
    whatsapp_account_id: str | None = None
    text: str = ""
    file_uid: str | None = None
    label: str | None = None
    chat_name: str | None = None


class JidSendBody(_Body):
    jid: str
    whatsapp_account_phone: str | None = None
    text: str = ""
    file_uid: str | None = None
    label: str | None = None
    chat_name: str | None = None


class ChatSendBody(_Body):
    text: str = ""
    file_uid: str | None = None
    reply_to: str | None = None


def note_send(request: Request, sim: Simulator, message: MessageRecord) -> None:
    """Complete the request log's entry with who sent what to whom."""
    entry = request.scope.get("state", {}).get(ENTRY_KEY)
    if not isinstance(entry, LoggedRequest):
        return
    chat = sim.workspace.chats[message.chat_id]
    entry.account_phone = chat.account_phone
    entry.recipient_phone = chat.phone
    entry.chat_id = chat.id
    entry.message_uid = message.uid


def page_of(items: list[Any], page: int) -> tuple[list[Any], bool]:
    """One page of ``PAGE_SIZE`` items (pages count from 1) and whether more follow."""
    if page < 1:
        raise ApiError(400, "page must be 1 or more")
    start = (page - 1) * PAGE_SIZE
    return items[start : start + PAGE_SIZE], len(items) > start + PAGE_SIZE


def moment(value: str | None, name: str) -> datetime | None:
    """A date/time query parameter; 400 when it is not one."""
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ApiError(400, f"{name} is not a date/time: {value!r}") from None


@router.post("/messages")
async def send_message(body: SendBody, request: Request, sim: Sim) -> dict[str, Any]:
    message = sim.workspace.send_new(
        account_ref=body.whatsapp_account_phone or body.whatsapp_account_id,
        phone=body.phone,
        text=body.text,
        file_uid=body.file_uid,
        label=body.label,
        chat_name=body.chat_name,
    )
    note_send(request, sim, message)
    return ok({"message_uid": message.uid})


@router.post("/messages/to_jid")
async def send_to_jid(body: JidSendBody, request: Request, sim: Sim) -> dict[str, Any]:
    # Only a contact's JID (its phone at s.whatsapp.net) is simulated; groups are not.
    number, _, server = body.jid.partition("@")
    if server != "s.whatsapp.net" or not number.isdigit():
        raise ApiError(400, f'Wrong jid "{body.jid}"')
    message = sim.workspace.send_new(
        account_ref=body.whatsapp_account_phone,
        phone=f"+{number}",
        text=body.text,
        file_uid=body.file_uid,
        label=body.label,
        chat_name=body.chat_name,
    )
    note_send(request, sim, message)
    return ok({"message_uid": message.uid})


@router.post("/chats/{chat_id}/messages")
async def send_to_chat(
    chat_id: int, body: ChatSendBody, request: Request, sim: Sim
) -> dict[str, Any]:
    message = sim.workspace.send_to_chat(
        chat_id, text=body.text, file_uid=body.file_uid, reply_to=body.reply_to
    )
    note_send(request, sim, message)
    return ok({"message_uid": message.uid})


@router.get("/chats")
async def find_chats(
    sim: Sim,
    *,
    phone: str | None = None,
    whatsapp_account_id: str | None = None,
    label: str | None = None,
    read: bool | None = None,
    closed: bool | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    page: int = 1,
) -> dict[str, Any]:
    chats = sim.workspace.find_chats(
        phone=phone,
        account_ids=whatsapp_account_id.split(",") if whatsapp_account_id else None,
        label=label,
        read=read,
        closed=closed,
        created_after=moment(created_after, "created_after"),
        created_before=moment(created_before, "created_before"),
    )
    items, more = page_of(chats, page)
    data = [chat_json(chat, sim.workspace, sim.config) for chat in items]
    return ok({"has_more_pages": more, "chats": data})


@router.get("/chats/{chat_id}/messages")
async def chat_messages(
    chat_id: int,
    sim: Sim,
    *,
    from_me: bool | None = None,
    after: str | None = None,
    before: str | None = None,
    after_message: str | None = None,
    before_message: str | None = None,
    sorting_order: Literal["asc", "desc"] = "desc",
    page: int = 1,
) -> dict[str, Any]:
    messages = sim.workspace.chat_messages(
        chat_id,
        from_me=from_me,
        after=moment(after, "after"),
        before=moment(before, "before"),
        after_message=after_message,
        before_message=before_message,
        newest_first=sorting_order == "desc",
    )
    items, more = page_of(messages, page)
    now = sim.clock.now()
    data = [message_json(message, sim.workspace, sim.config, now) for message in items]
    return ok({"has_more_pages": more, "messages": data})


@router.get("/messages/{uid}")
async def get_message(uid: str, sim: Sim) -> dict[str, Any]:
    message = sim.workspace.message(uid)
    return ok(message_json(message, sim.workspace, sim.config, sim.clock.now()))


@router.get("/messages/{uid}/status_history")
async def get_status_history(uid: str, sim: Sim) -> dict[str, Any]:
    message = sim.workspace.message(uid)
    return ok(status_history_json(message, sim.config, sim.clock.now()))
