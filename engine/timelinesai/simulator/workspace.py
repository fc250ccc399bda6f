"""The simulated workspace: accounts, chats opened by a first message, histories, files.

It answers like TimelinesAI, quirks included: a send from a disconnected account
is refused with the same 400 "Wrong phone number" a bad recipient gets.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from datetime import datetime

from engine.clock import Clock
from engine.timelinesai.simulator.config import (
    AccountStatus,
    SimulatorConfig,
    digits_of,
)
from engine.timelinesai.simulator.records import (
    AccountRecord,
    ApiError,
    ChatRecord,
    FileRecord,
    MessageRecord,
    Notifier,
)
from engine.timelinesai.simulator.subscriptions import Subscriptions

MAX_TEXT_CHARS = 2000
_E164_ISH = re.compile(r"^\+?[1-9]\d{6,14}$")
_FIRST_CHAT_ID = 1001


def _position(uids: list[str], uid: str) -> int:
    if uid not in uids:
        raise ApiError(404, f'Message uid "{uid}" not found')
    return uids.index(uid)


def wrong_number(phone: str) -> ApiError:
    """TimelinesAI's answer to a send it cannot deliver to ``phone``."""
    return ApiError(400, f'Wrong phone number "{phone}"')


class Workspace:
    """The state behind the simulated API. Not thread-safe: it lives on the server's loop."""

    def __init__(
        self,
        config: Callable[[], SimulatorConfig],
        clock: Clock,
        rng: random.Random,
        notifier: Notifier,
    ) -> None:
        self._config = config
        self._clock = clock
        self._rng = rng
        self._notifier = notifier
        now = clock.now()
        self.accounts = {
            digits_of(account.phone): AccountRecord(account, account.status, connected_on=now)
            for account in config().accounts
        }
        self.chats: dict[int, ChatRecord] = {}
        self.messages: dict[str, MessageRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.subscriptions = Subscriptions()
        self._chat_ids: dict[tuple[str, str], int] = {}

    def new_uid(self) -> str:
        """A random uuid, reproducible with the config's ``seed``."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # Accounts --------------------------------------------------------------------------

    def account(self, phone_or_jid: str) -> AccountRecord:
        """The account with this phone or JID; 400 when the workspace has none."""
        for account in self.accounts.values():
            if phone_or_jid == account.config.account_id:
                return account
        found = self.accounts.get(digits_of(phone_or_jid))
        if found is None:
            raise ApiError(400, f'Whatsapp account "{phone_or_jid}" not found in the workspace')
        return found

    def set_account_status(self, phone: str, status: AccountStatus) -> AccountRecord:
        """Connect, disconnect or ban an account; a change fires the account's webhook."""
        account = self.account(phone)
        previous = account.status
        if status == previous:
            return account
        account.status = status
        if status == "active":
            account.connected_on, account.disconnected_on = self._clock.now(), None
        else:
            account.disconnected_on = self._clock.now()
        self._notifier.account_changed(account, previous)
        return account

    # Sending ---------------------------------------------------------------------------

    def send_new(
        self,
        *,
        account_ref: str | None,
        phone: str,
        text: str,
        file_uid: str | None = None,
        label: str | None = None,
        chat_name: str | None = None,
    ) -> MessageRecord:
        """``POST /messages``: send to ``phone``, opening the chat on the first message.

        Without ``account_ref`` the most recently connected account sends, as the spec says.
        """
        account = self.account(account_ref) if account_ref else self.latest_connected_account()
        self._check_sendable(account, phone, text, file_uid)
        pattern = self._config().invalid_recipient_pattern
        if not _E164_ISH.match(phone) or (pattern and re.search(pattern, phone)):
            raise wrong_number(phone)
        chat = self.chat_with(account.phone, phone, create=True, name=chat_name)
        if label:
            chat.label = label
        return self._send(account, chat, text, file_uid, None)

    def send_to_chat(
        self, chat_id: int, *, text: str, file_uid: str | None = None, reply_to: str | None = None
    ) -> MessageRecord:
        """``POST /chats/{id}/messages``: send into an existing chat."""
        chat = self.chat(chat_id)
        account = self.account(chat.account_phone)
        self._check_sendable(account, chat.phone, text, file_uid)
        if reply_to is not None and reply_to not in chat.message_uids:
            raise ApiError(400, f'reply_to message uid "{reply_to}" is not in this chat')
        return self._send(account, chat, text, file_uid, reply_to)

    def receive(self, chat_id: int, text: str) -> MessageRecord:
        """The contact of ``chat_id`` writes ``text`` to us."""
        chat = self.chat(chat_id)
        message = MessageRecord(
            uid=self.new_uid(),
            chat_id=chat.id,
            from_me=False,
            text=text,
            created_at=self._clock.now(),
            origin="WhatsApp",
        )
        self._record(chat, message)
        chat.read = False
        self._notifier.message_received(message)
        return message

    def _check_sendable(
        self, account: AccountRecord, recipient: str, text: str, file_uid: str | None
    ) -> None:
        """Refuse a send before it changes anything (no chat is opened for a refused send)."""
        if account.status == "banned":
            raise ApiError(400, f'Whatsapp account "{account.phone}" is banned by WhatsApp')
        if account.status == "disconnected":
            raise wrong_number(recipient)
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError(400, f"text must be at most {MAX_TEXT_CHARS} characters")
        if not text and not file_uid:
            raise ApiError(400, "text is required")
        if file_uid is not None and file_uid not in self.files:
            raise ApiError(404, f'File uid "{file_uid}" not found')

    def _send(
        self,
        account: AccountRecord,
        chat: ChatRecord,
        text: str,
        file_uid: str | None,
        reply_to: str | None,
    ) -> MessageRecord:
        message = MessageRecord(
            uid=self.new_uid(),
            chat_id=chat.id,
            from_me=True,
            text=text,
            created_at=self._clock.now(),
            origin="API",
            file_uid=file_uid,
            reply_to=reply_to,
            read_receipts=self._rng.random() < self._config().read_receipt_rate,
            delivers=self.delivers_to(chat.phone),
        )
        self._record(chat, message)
        account.sends += 1
        self._notifier.message_sent(message)
        limits = account.config
        if limits.ban_after_sends is not None and account.sends >= limits.ban_after_sends:
            self.set_account_status(account.phone, "banned")
        elif (
            limits.disconnect_after_sends is not None
            and account.sends >= limits.disconnect_after_sends
        ):
            self.set_account_status(account.phone, "disconnected")
        return message

    def delivers_to(self, phone: str) -> bool:
        """False for a recipient ``undelivered_recipient_pattern`` names: accepted, never
        delivered."""
        pattern = self._config().undelivered_recipient_pattern
        return not (pattern and re.search(pattern, phone))

    def _record(self, chat: ChatRecord, message: MessageRecord) -> None:
        self.messages[message.uid] = message
        chat.message_uids.append(message.uid)

    # Chats and messages ----------------------------------------------------------------

    def chat(self, chat_id: int) -> ChatRecord:
        """The chat ``chat_id``; 404 as TimelinesAI words it when there is none."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(404, f'Whatsapp chat_id "{chat_id}" not found')
        return chat

    def chat_with(
        self, account_phone: str, phone: str, *, create: bool, name: str | None = None
    ) -> ChatRecord:
        """The chat of ``account_phone`` with ``phone``, opened now if ``create``."""
        key = (digits_of(account_phone), digits_of(phone))
        chat_id = self._chat_ids.get(key)
        if chat_id is not None:
            return self.chats[chat_id]
        if not create:
            raise ApiError(404, f'no chat of "{account_phone}" with "{phone}"')
        chat = ChatRecord(
            id=_FIRST_CHAT_ID + len(self.chats),
            account_phone=self.account(account_phone).phone,
            phone=phone if phone.startswith("+") else f"+{phone}",
            name=name or phone,
            created_at=self._clock.now(),
        )
        self.chats[chat.id] = chat
        self._chat_ids[key] = chat.id
        return chat

    def message(self, uid: str) -> MessageRecord:
        """The message ``uid``; 404 as TimelinesAI words it when there is none."""
        message = self.messages.get(uid)
        if message is None:
            raise ApiError(404, f'Message uid "{uid}" not found')
        return message

    def find_chats(
        self,
        *,
        phone: str | None = None,
        account_ids: list[str] | None = None,
        label: str | None = None,
        read: bool | None = None,
        closed: bool | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[ChatRecord]:
        """The chats matching every given filter, oldest first."""
        wanted = {digits_of(account_id) for account_id in account_ids or ()}
        return [
            chat
            for chat in self.chats.values()
            if (phone is None or digits_of(chat.phone) == digits_of(phone))
            and (not wanted or digits_of(chat.account_phone) in wanted)
            and (label is None or chat.label == label)
            and (read is None or chat.read == read)
            and (closed is None or chat.closed == closed)
            and (created_after is None or chat.created_at > created_after)
            and (created_before is None or chat.created_at < created_before)
        ]

    def chat_messages(
        self,
        chat_id: int,
        *,
        from_me: bool | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        after_message: str | None = None,
        before_message: str | None = None,
        newest_first: bool = True,
    ) -> list[MessageRecord]:
        """A chat's messages matching every given filter."""
        uids = self.chat(chat_id).message_uids
        low = _position(uids, after_message) + 1 if after_message else 0
        high = _position(uids, before_message) if before_message else len(uids)
        selected = [
            message
            for message in (self.messages[uid] for uid in uids[low:high])
            if (from_me is None or message.from_me == from_me)
            and (after is None or message.created_at > after)
            and (before is None or message.created_at < before)
        ]
        return selected[::-1] if newest_first else selected

    def add_file(self, filename: str, size: int, mimetype: str) -> FileRecord:
        """Store an uploaded file's description (the simulator keeps no content)."""
        record = FileRecord(
            uid=self.new_uid(),
            filename=filename,
            size=size,
            mimetype=mimetype,
            uploaded_at=self._clock.now(),
        )
        self.files[record.uid] = record
        return record

    def file(self, uid: str) -> FileRecord:
        """The uploaded file ``uid``; 404 when there is none."""
        record = self.files.get(uid)
        if record is None:
            raise ApiError(404, f'File uid "{uid}" not found')
        return record

    def find_files(self, filename: str | None = None) -> list[FileRecord]:
        """The uploaded files whose name contains ``filename`` (any case), oldest first."""
        part = (filename or "").casefold()
        return [record for record in self.files.values() if part in record.filename.casefold()]

    def delete_file(self, uid: str) -> None:
        """Forget the uploaded file ``uid``; 404 when there is none."""
        del self.files[self.file(uid).uid]

    def latest_connected_account(self) -> AccountRecord:
        """The most recently connected active account: who sends when a send names none."""
        active = [account for account in self.accounts.values() if account.status == "active"]
        if not active:
            raise ApiError(400, "no connected WhatsApp account in the workspace")
        return max(active, key=lambda account: account.connected_on)
