"""What the simulated workspace stores, and how it tells the rest of the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from engine.errors import OutreachError
from engine.timelinesai.simulator.config import AccountStatus, SimAccount


class ApiError(OutreachError):
    """Raised when the simulated API must answer with TimelinesAI's error body."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class AccountRecord:
    """A WhatsApp number of the workspace and what happened to it."""

    config: SimAccount
    status: AccountStatus
    connected_on: datetime
    disconnected_on: datetime | None = None
    sends: int = 0

    @property
    def phone(self) -> str:
        return self.config.phone


@dataclass
class ChatRecord:
    """A chat of one of our accounts with one contact, opened by the first message."""

    id: int
    account_phone: str
    phone: str
    name: str
    created_at: datetime
    label: str | None = None
    read: bool = True
    closed: bool = False
    message_uids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MessageRecord:
    """One message in a chat: ours (``from_me``) or the contact's."""

    uid: str
    chat_id: int
    from_me: bool
    text: str
    created_at: datetime
    origin: str
    file_uid: str | None = None
    reply_to: str | None = None
    # A recipient with read receipts off never reaches "read".
    read_receipts: bool = True
    # A message to a recipient that never comes online stays "sent".
    delivers: bool = True


@dataclass(frozen=True)
class FileRecord:
    """A file uploaded to the workspace."""

    uid: str
    filename: str
    size: int
    mimetype: str
    uploaded_at: datetime


class Notifier(Protocol):
    """Told of every event TimelinesAI would send a webhook for."""

    def message_sent(self, message: MessageRecord) -> None: ...

    def message_received(self, message: MessageRecord) -> None: ...

    def account_changed(self, account: AccountRecord, previous: AccountStatus) -> None: ...
