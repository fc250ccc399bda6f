"""The TimelinesAI public API client: one method per endpoint the engine uses.

Synchronous (workers are threads): build one client per process and share it;
it holds the process's one connection pool. See :mod:`engine.timelinesai.session`
for what is retried and :mod:`engine.timelinesai.answers` for the error mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from engine.timelinesai.answers import SendTarget
from engine.timelinesai.errors import BadRequest
from engine.timelinesai.models import (
    Chat,
    Message,
    SentMessage,
    StatusChange,
    UploadedFile,
    Webhook,
    WebhookId,
    WhatsAppAccount,
    WorkspaceQuotas,
)
from engine.timelinesai.ratelimit.base import MonthlyBudget, RateLimiter
from engine.timelinesai.session import ApiSession
from engine.timelinesai.shapes import M, many, one, page, query

MAX_TEXT_CHARS = 2000


def _check_text(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(
            f"the text is {len(text)} characters; TimelinesAI takes at most {MAX_TEXT_CHARS}"
        )


class TimelinesAIClient:
    """A client of the TimelinesAI public API (``https://app.timelines.ai/integrations/api``).

    ``timeout_s`` bounds each HTTP exchange; ``retry_total_s`` bounds the in-call
    retries of one method call. ``limiter`` and ``budget`` are charged once per
    HTTP attempt. ``transport`` swaps the network out (``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 15.0,
        retry_total_s: float = 10.0,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 4.0,
        limiter: RateLimiter | None = None,
        budget: MonthlyBudget | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str | None = None,
        max_connections: int = 20,
    ) -> None:
        self._session = ApiSession(
            base_url,
            token,
            timeout_s=timeout_s,
            retry_total_s=retry_total_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            limiter=limiter,
            budget=budget,
            transport=transport,
            user_agent=user_agent,
            max_connections=max_connections,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    # Sending -------------------------------------------------------------------------

    def send_message(
        self,
        *,
        phone: str,
        text: str,
        from_phone: str,
        file_uid: str | None = None,
        label: str | None = None,
        chat_name: str | None = None,
    ) -> SentMessage:
        """Send ``text`` to ``phone`` (E.164) from our number ``from_phone``; opens the chat.

        Raises ``SendOutcomeUnknown`` when it may have gone out unanswered.
        """
        _check_text(text)
        body = {"phone": phone, "whatsapp_account_phone": from_phone, "text": text}
        optional = {"file_uid": file_uid, "label": label, "chat_name": chat_name}
        body.update({name: value for name, value in optional.items() if value is not None})
        target = SendTarget(text=text, phone=phone, from_phone=from_phone)
        return self._session.call(
            "POST", "/messages", one(SentMessage), json=body, idempotent=False, send=target
        )

    def send_to_chat(
        self, chat_id: int, *, text: str, file_uid: str | None = None, reply_to: str | None = None
    ) -> SentMessage:
        """Send ``text`` into an existing chat (follow-ups); ``ChatNotFound`` if it is gone."""
        _check_text(text)
        body = {"text": text}
        optional = {"file_uid": file_uid, "reply_to": reply_to}
        body.update({name: value for name, value in optional.items() if value is not None})
        return self._session.call(
            "POST",
            f"/chats/{chat_id}/messages",
            one(SentMessage),
            json=body,
            idempotent=False,
            send=SendTarget(text=text, chat_id=chat_id),
        )

    def upload_file_from_url(
        self, download_url: str, *, filename: str | None = None, content_type: str | None = None
    ) -> UploadedFile:
        """Have TimelinesAI fetch a file from ``download_url``; send its ``uid`` as ``file_uid``."""
        body = {"download_url": download_url, "filename": filename, "content_type": content_type}
        json = {name: value for name, value in body.items() if value is not None}
        return self._session.call("POST", "/files", one(UploadedFile), json=json)

    def upload_file(self, content: bytes, *, filename: str, content_type: str) -> UploadedFile:
        """Upload ``content`` as a file; send its ``uid`` as ``file_uid``."""
        return self._session.call(
            "POST",
            "/files_upload",
            one(UploadedFile),
            files={"file": (filename, content, content_type)},
            form={"filename": filename, "content_type": content_type},
        )

    # Reading -------------------------------------------------------------------------

    def find_chats(
        self,
        *,
        phone: str | None = None,
        account_ids: Sequence[str] | None = None,
        label: str | None = None,
        read: bool | None = None,
        closed: bool | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Iterator[Chat]:
        """Chats matching every given filter, page after page; ``account_ids`` are JIDs."""
        params = query(
            phone=phone,
            whatsapp_account_id=account_ids,
            label=label,
            read=read,
            closed=closed,
            created_after=created_after,
            created_before=created_before,
        )
        return self._pages("/chats", params, page(Chat, "chats"))

    def find_chat(self, phone: str, account_id: str) -> int | None:
        """The id of the chat between lead ``phone`` and our account (its JID), if any:
        one request, the first page."""
        found = next(iter(self.find_chats(phone=phone, account_ids=[account_id])), None)
        return None if found is None else found.id

    def iter_chat_messages(
        self,
        chat_id: int,
        *,
        from_me: bool | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        after_message: str | None = None,
        before_message: str | None = None,
        order: Literal["asc", "desc"] = "desc",
    ) -> Iterator[Message]:
        """A chat's messages, newest first unless ``order="asc"``, page after page."""
        params = query(
            from_me=from_me,
            after=after,
            before=before,
            after_message=after_message,
            before_message=before_message,
            sorting_order=order,
        )
        return self._pages(f"/chats/{chat_id}/messages", params, page(Message, "messages"))

    def whatsapp_accounts(self) -> list[WhatsAppAccount]:
        """Every WhatsApp number of the workspace with its state, in one call."""
        return self._session.call(
            "GET", "/whatsapp_accounts", many(WhatsAppAccount, "whatsapp_accounts")
        )

    def message(self, uid: str) -> Message:
        """One message by uid, with its delivery ``status``."""
        return self._session.call("GET", f"/messages/{quote(uid, safe='')}", one(Message))

    def message_status_history(self, uid: str) -> list[StatusChange]:
        """Every status a message went through, as TimelinesAI lists them."""
        path = f"/messages/{quote(uid, safe='')}/status_history"
        return self._session.call("GET", path, many(StatusChange, "status_history"))

    def workspace_quotas(self) -> WorkspaceQuotas:
        """The workspace's remaining quotas, in whatever shape TimelinesAI gives them."""
        return self._session.call(
            "GET",
            "/workspace/quotas",
            lambda data: WorkspaceQuotas(raw=data if isinstance(data, dict) else {"data": data}),
        )

    # Webhook subscriptions -----------------------------------------------------------

    def list_webhooks(self) -> list[Webhook]:
        """The workspace's webhook subscriptions (at most 10)."""
        return self._session.call("GET", "/webhooks", many(Webhook, "webhooks"))

    def create_webhook(self, event_type: str, url: str, *, enabled: bool = True) -> Webhook:
        """Subscribe ``url`` to one event type. Not retried once sent: list before retrying."""
        body = {"event_type": event_type, "url": url, "enabled": enabled}
        return self._session.call("POST", "/webhooks", one(Webhook), json=body, idempotent=False)

    def get_webhook(self, webhook_id: WebhookId) -> Webhook:
        """One webhook subscription."""
        return self._session.call("GET", f"/webhooks/{webhook_id}", one(Webhook))

    def update_webhook(
        self,
        webhook_id: WebhookId,
        *,
        event_type: str | None = None,
        url: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change the given fields of a webhook subscription."""
        changes = {"event_type": event_type, "url": url, "enabled": enabled}
        body = {name: value for name, value in changes.items() if value is not None}
        return self._session.call("PUT", f"/webhooks/{webhook_id}", one(Webhook), json=body)

    def delete_webhook(self, webhook_id: WebhookId) -> None:
        """Remove a webhook subscription."""
        self._session.call("DELETE", f"/webhooks/{webhook_id}", lambda _data: None)

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        parse: Callable[[Any], tuple[bool, list[M]]],
    ) -> Iterator[M]:
        number = 1
        while True:
            has_more, items = self._session.call(
                "GET", path, parse, params={**params, "page": number}
            )
            yield from items
            # An empty page ends the walk even if it claims more, so a bad answer cannot loop.
            if not has_more or not items:
                return
            number += 1
