"""Who may sign in to the console: users with a role and an argon2 password hash.

The users live in a small TOML file of their own next to the config (``[console]
users_file``), written by ``outreach console user add``; only hashes are kept.
``OUTREACH_CONSOLE_PASSWORD`` alone sets the password of user ``admin`` (an operator)
for a single-user setup, and wins over a file entry of that name.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.errors import ConfigError
from engine.settings import Settings

__all__ = [
    "ADMIN",
    "ROLES",
    "Account",
    "BusyError",
    "Directory",
    "User",
    "directory_of",
    "hash_password",
    "read_accounts",
    "users_path",
    "valid_name",
    "write_accounts",
]

ROLES: Final = ("viewer", "operator")
"""``viewer`` reads every page; ``operator`` also acts (pause, resolve, retry, ...)."""
ADMIN: Final = "admin"
MIN_PASSWORD_LENGTH: Final = 8
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_hasher = PasswordHasher()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class User:
    """A signed-in person."""

    name: str
    role: str

    @property
    def can_act(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True)
class Account:
    """One entry of the users file."""

    name: str
    role: str
    password_hash: str


def users_path(settings: Settings) -> Path:
    """The users file: ``[console] users_file``, relative to the config's folder."""
    path = Path(settings.console.users_file)
    if path.is_absolute() or settings.path is None:
        return path
    return settings.path.parent / path


def directory_of(settings: Settings) -> Directory:
    """Who may sign in under ``settings``: the users file (read again when it changes) and
    ``OUTREACH_CONSOLE_PASSWORD``."""
    path = users_path(settings)
    return Directory(read_accounts(path), settings.console.password, source=path)


def valid_name(name: str) -> bool:
    """Letters, digits and ``. _ @ -``, up to 64 characters."""
    return bool(_NAME.match(name))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; refuses one shorter than 8 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def read_accounts(path: Path) -> dict[str, Account]:
    """The users in ``path`` (none when the file does not exist); a malformed file or
    entry is a :class:`ConfigError` naming it."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise ConfigError(f"cannot read the console users: {error}", path=str(path)) from None
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise ConfigError("expected a [users.NAME] table per user", path=str(path), key="users")
    accounts: dict[str, Account] = {}
    for name, entry in table.items():
        key = f"users.{name}"
        if not valid_name(name) or not isinstance(entry, dict):
            raise ConfigError("not a valid user entry", path=str(path), key=key)
        role, hashed = entry.get("role"), entry.get("password_hash")
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}", path=str(path), key=key)
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise ConfigError("password_hash must be an argon2 hash", path=str(path), key=key)
        accounts[name] = Account(name, role, hashed)
    return accounts


def write_accounts(path: Path, accounts: dict[str, Account]) -> None:
    """Replace ``path`` with ``accounts`` at once (a reader never sees half a file),
    readable by its owner only."""
    lines = [
        "# Console users: written by `outreach console user add|remove`. Hashes only.",
        "",
    ]
    for account in sorted(accounts.values(), key=lambda a: a.name):
        lines += [
            f'[users."{account.name}"]',
            f'role = "{account.role}"',
            f'password_hash = "{account.password_hash}"',
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Directory:
    """The accounts that may sign in, checked against their hashes.

    Made from the users file (``source``), it reads the file again whenever it changed,
    so ``outreach console user add|remove`` takes effect at once in a running console
    (a file that cannot be read then keeps the accounts read last, and says so in the
    log). At most ``checks_at_once`` password checks run together (each takes 64 MiB
    for a tenth of a second): more wait their turn, up to ``wait_s``, then
    :class:`BusyError`.
    """

    def __init__(
        self, accounts: dict[str, Account], admin_password: str | None = None, *,
        source: Path | None = None, checks_at_once: int = 2, wait_s: float = 5.0,
    ) -> None:  # fmt: skip
        self._accounts = dict(accounts)
        self._source = source
        self._stamp: tuple[int, int] | None = None  # the file is read on first use
        self._lock = threading.Lock()
        # Hashed like every other password, so checking it takes as long as theirs.
        self._admin_hash = _hasher.hash(admin_password) if admin_password else None
        # Verifying against this for an unknown name costs what a real check costs, so
        # the answer's time does not tell which names exist.
        self._decoy = _hasher.hash("not a password of anyone's")
        self._checks = threading.BoundedSemaphore(checks_at_once)
        self._wait_s = wait_s

    def __len__(self) -> int:
        accounts = self._current()
        return len(accounts) + (1 if self._admin_hash and ADMIN not in accounts else 0)

    def role_of(self, name: str) -> str | None:
        """The user's role now (``None``: no such user any more)."""
        if name == ADMIN and self._admin_hash:
            return "operator"
        account = self._current().get(name)
        return account.role if account else None

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else ``None``."""
        if name == ADMIN and self._admin_hash:
            account: Account | None = Account(ADMIN, "operator", self._admin_hash)
        else:
            account = self._current().get(name)
        if not self._checks.acquire(timeout=self._wait_s):
            raise BusyError("too many sign-ins at once: try again in a moment")
        try:
            _hasher.verify(account.password_hash if account else self._decoy, password)
        except (VerificationError, InvalidHashError):
            return None
        finally:
            self._checks.release()
        return User(account.name, account.role) if account else None

    def _current(self) -> dict[str, Account]:
        if self._source is None:
            return self._accounts
        stamp = _stamp(self._source)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._accounts = read_accounts(self._source)
                except ConfigError as error:
                    log.error("console users not reloaded (the last ones stay): %s", error)
                self._stamp = stamp
            return self._accounts


class BusyError(Exception):
    """Too many password checks at once."""


def _stamp(path: Path) -> tuple[int, int] | None:
    """When and how big the file is (``None``: there is none), to notice a change."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return (found.st_mtime_ns, found.st_size)
