"""The phones file: the pool's phones in a CSV or TOML file of their own.

``[phones] file = "phones.csv"`` in the config (relative to the config's folder) puts
the phones there instead of ``[[phones]]`` tables (TOML allows a key to be one or the
other, not both). A CSV has a header naming the columns, the fields of a ``[[phones]]``
table: ``id`` and ``phone`` required, ``account_id``, ``new_contacts_per_day`` and
``started_on`` optional (an empty cell: not set). A TOML file holds ``[[phones]]``
tables, as the config would. Every row is checked as an inline phone is, and each
problem names the file, the line and the field; an id or a number used twice names
both places. :func:`write_phones` writes one atomically (``outreach phones import``).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import os
import re
import tempfile
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from engine import numbers
from engine.config_loader import load_dataclass, read_toml
from engine.errors import ConfigError
from engine.settings.phone_ids import phone_id_key, phone_id_problem
from engine.settings.sections import PhoneSettings

PHONE_FIELDS = tuple(f.name for f in dataclasses.fields(PhoneSettings))
"""The columns of a phones CSV (the keys of a ``[[phones]]`` table), in writing order."""
_REQUIRED = tuple(
    f.name for f in dataclasses.fields(PhoneSettings) if f.default is dataclasses.MISSING
)
FORMATS = (".csv", ".toml")


@dataclass(frozen=True)
class PhoneEntry:
    """One phone as read, with where it was written: ``where`` is ``line 5`` (a CSV row),
    ``phones[2]`` (a TOML table), ``given`` the fields the row sets (its file's columns)."""

    phone: PhoneSettings
    path: str
    where: str
    given: frozenset[str] = frozenset(PHONE_FIELDS)

    def error(self, field: str, message: str) -> ConfigError:
        """A problem with ``field`` of this row, naming the file, the row and the field."""
        key = f"{self.where}.{field}" if self.where.endswith("]") else f"{self.where}: {field}"
        return ConfigError(message, path=self.path, key=key)


@dataclass(frozen=True)
class PhoneFile:
    """The rows of a phones file that read well, and a problem for each one that did not."""

    entries: tuple[PhoneEntry, ...]
    problems: tuple[ConfigError, ...]
    columns: tuple[str, ...] = PHONE_FIELDS


def phone_format(path: Path) -> str:
    """``.csv`` or ``.toml``; raises :class:`ValueError` naming the choice for another."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path.name!r} must end in .csv or .toml")
    return suffix


def read_phones(path: Path) -> PhoneFile:
    """Every row of the phones file at ``path``, each checked alone and against the others.

    A file that cannot be read at all (missing, not UTF-8, malformed TOML, a bad CSV
    header) raises :class:`ConfigError`; a bad row is one of ``problems``.
    """
    try:
        kind = phone_format(path)
    except ValueError as error:
        raise ConfigError(str(error), path=str(path)) from None
    if not path.is_file():
        raise ConfigError(
            "no such phones file; write one (a header line `id,phone`, then a row per phone)"
            " or create it with `outreach phones import FILE`",
            path=str(path),
        )
    read = _read_csv(path) if kind == ".csv" else _read_toml(path)
    problems = sorted([*read.problems, *phone_problems(read.entries)], key=_row_of)
    return dataclasses.replace(read, problems=tuple(problems))


def _row_of(problem: ConfigError) -> int:
    """The line (CSV) or table index (TOML) a problem names, to list them in file order."""
    found = re.search(r"line (\d+)|\[(\d+)\]", problem.key or "")
    return 0 if found is None else int(found.group(1) or found.group(2))


def load_phones(path: Path) -> tuple[PhoneSettings, ...]:
    """The phones of the file at ``path``; raises :class:`ConfigError` at its first problem."""
    read = read_phones(path)
    if read.problems:
        raise read.problems[0]
    return tuple(entry.phone for entry in read.entries)


def phone_problems(entries: Sequence[PhoneEntry]) -> list[ConfigError]:
    """What is wrong with each row (id, number, quota), and an id or a number used twice
    (ids regardless of case), naming the first place it was used."""
    problems: list[ConfigError] = []
    ids: dict[str, PhoneEntry] = {}
    phones: dict[str, PhoneEntry] = {}
    for entry in entries:
        phone = entry.phone
        id_problem = phone_id_problem(phone.id)
        if id_problem:
            problems.append(entry.error("id", id_problem))
        elif (first := ids.setdefault(phone_id_key(phone.id), entry)) is not entry:
            same = "" if first.phone.id == phone.id else f" (as {first.phone.id!r}: case aside)"
            message = f"phone id {phone.id!r} is used twice{same}; {_also(first, entry)}"
            problems.append(entry.error("id", message))
        if not numbers.is_e164(phone.phone):
            problems.append(
                entry.error("phone", f"{phone.phone!r} is not a valid E.164 number (+CC...)")
            )
        elif (other := phones.setdefault(phone.phone, entry)) is not entry:
            problems.append(
                entry.error("phone", f"{phone.phone!r} is configured twice; {_also(other, entry)}")
            )
        if phone.new_contacts_per_day is not None and phone.new_contacts_per_day <= 0:
            problems.append(
                entry.error("new_contacts_per_day", "must be a positive number of contacts")
            )
    return problems


def _also(first: PhoneEntry, entry: PhoneEntry) -> str:
    return f"also at {first.where}" + ("" if first.path == entry.path else f" of {first.path}")


def _read_toml(path: Path) -> PhoneFile:
    data = read_toml(path)
    unknown = sorted(set(data) - {"phones"})
    if unknown:
        raise ConfigError(
            f"a phones file holds only [[phones]] tables, not {unknown[0]!r}",
            path=str(path), key=unknown[0],
        )  # fmt: skip
    tables = data.get("phones", [])
    if not isinstance(tables, list):
        raise ConfigError("expected [[phones]] tables", path=str(path), key="phones")
    lines = _table_lines(path, len(tables))
    entries: list[PhoneEntry] = []
    problems: list[ConfigError] = []
    for index, table in enumerate(tables):
        where = f"phones[{index}]" if lines is None else f"line {lines[index]}: phones[{index}]"
        try:
            phone = load_dataclass(PhoneSettings, table, path=str(path), key=where)
        except ConfigError as error:
            problems.append(error)
            continue
        entries.append(PhoneEntry(phone, str(path), where, frozenset(table)))
    return PhoneFile(tuple(entries), tuple(problems))


def _table_lines(path: Path, count: int) -> list[int] | None:
    """The line of each ``[[phones]]`` header, when the file writes each table so."""
    text = path.read_text(encoding="utf-8")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[phones]]"]
    return lines if len(lines) == count else None


def _read_csv(path: Path) -> PhoneFile:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", path=str(path)) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", path=str(path)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    _check_header(header, path)
    hints = typing.get_type_hints(PhoneSettings)
    entries: list[PhoneEntry] = []
    problems: list[ConfigError] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        where = f"line {reader.line_num}"
        if len(cells) > len(header):
            message = f"{len(cells)} cells, but the header names {len(header)} columns"
            problems.append(ConfigError(message, path=str(path), key=where))
            continue
        values: dict[str, Any] = {}
        try:
            for name, cell in zip(header, cells, strict=False):
                if cell.strip():
                    values[name] = _cell(hints[name], cell.strip(), str(path), f"{where}: {name}")
            for name in _REQUIRED:
                if name not in values:
                    raise ConfigError("is required", path=str(path), key=f"{where}: {name}")
        except ConfigError as error:
            problems.append(error)
            continue
        entries.append(PhoneEntry(PhoneSettings(**values), str(path), where, frozenset(header)))
    return PhoneFile(tuple(entries), tuple(problems), tuple(header))


def _check_header(header: list[str], path: Path) -> None:
    example = ",".join(PHONE_FIELDS)
    if not any(header):
        raise ConfigError(f"the first line must name the columns, e.g. {example}", path=str(path))
    for name in header:
        if name not in PHONE_FIELDS:
            close = difflib.get_close_matches(name, PHONE_FIELDS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"the columns are {example}"
            raise ConfigError(f"unknown column {name!r}; {hint}", path=str(path), key="line 1")
    for name in _REQUIRED:
        if name not in header:
            raise ConfigError(f"the header needs a {name!r} column", path=str(path), key="line 1")
    if len(set(header)) != len(header):
        raise ConfigError("a column is named twice", path=str(path), key="line 1")


def _cell(annotation: Any, text: str, path: str, key: str) -> Any:
    kind = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"expected an integer, got {text!r}", path=path, key=key) from None
    if kind is date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            message = f"expected a date (YYYY-MM-DD), got {text!r}"
            raise ConfigError(message, path=path, key=key) from None
    return text


def write_phones(path: Path, phones: Iterable[PhoneSettings], columns: Sequence[str] = ()) -> None:
    """Write ``phones`` to ``path`` (CSV or TOML by its suffix) atomically: a temporary file
    beside it, then a rename, so a reader sees the old file or the new one, never half.
    A CSV keeps ``columns`` (its current header) in order and adds any other field set."""
    phones = list(phones)
    text = _csv_text(phones, columns) if phone_format(path) == ".csv" else _toml_text(phones)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _csv_text(phones: list[PhoneSettings], columns: Sequence[str]) -> str:
    used = {name for phone in phones for name in PHONE_FIELDS if getattr(phone, name) is not None}
    header = [*columns, *(n for n in PHONE_FIELDS if n not in columns and n in used)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for phone in phones:
        writer.writerow(_text(getattr(phone, name)) for name in header)
    return out.getvalue()


def _text(value: Any) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, date) else str(value)


def _toml_text(phones: list[PhoneSettings]) -> str:
    lines = [
        "# The phones of outreach, one [[phones]] table each (`outreach phones import`",
        "# rewrites this file: comments are not kept).",
    ]
    for phone in phones:
        lines += ["", "[[phones]]"]
        for name in PHONE_FIELDS:
            value = getattr(phone, name)
            if value is None:
                continue
            written = json.dumps(value) if isinstance(value, str) else _text(value)
            lines.append(f"{name} = {written}")
    return "\n".join(lines) + "\n"


def phones_file_of(data: dict[str, Any], config_path: Path) -> Path | None:
    """The phones file a parsed config names (``[phones] file``, relative to the config's
    folder), or ``None`` when it has ``[[phones]]`` tables or no phones."""
    table = data.get("phones")
    if not isinstance(table, dict):
        return None
    for name in table:
        if name != "file":
            raise ConfigError(
                f"unknown key {name!r}: [phones] holds only `file`; the phones go in that file"
                " (a config has either [[phones]] tables or a [phones] file, not both)",
                path=str(config_path), key=f"phones.{name}",
            )  # fmt: skip
    name = table.get("file")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            'must name a CSV or TOML file, e.g. file = "phones.csv"',
            path=str(config_path), key="phones.file",
        )  # fmt: skip
    try:
        phone_format(Path(name))
    except ValueError as error:
        raise ConfigError(str(error), path=str(config_path), key="phones.file") from None
    return config_path.parent / name
