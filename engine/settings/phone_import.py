"""``outreach phones import FILE``: what adding or updating phones does to the phones file.

Pure: :func:`plan_import` takes the phones file as read (``None``: not written yet) and
the file being imported, and says which phones are added, updated and unchanged, and
the file's phones afterwards, or every problem that stops the import. A phone of the
import whose id is in the file is updated: the fields the import sets (its columns;
a TOML table's keys) replace the file's, an empty cell clearing one; the others stay.
New phones are appended in the import's order; the file's rows keep theirs. The CLI
writes the result with :func:`engine.settings.phone_file.write_phones`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.errors import ConfigError
from engine.settings.phone_file import PHONE_FIELDS, PhoneEntry, PhoneFile, phone_problems
from engine.settings.sections import PhoneSettings


@dataclass(frozen=True)
class ImportPlan:
    """The phones file after an import, and what changed (ids in file order), or why not."""

    phones: tuple[PhoneSettings, ...]
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    problems: tuple[ConfigError, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """Whether the file would change."""
        return bool(self.added or self.updated)


def plan_import(current: PhoneFile | None, incoming: PhoneFile) -> ImportPlan:
    """Merge ``incoming`` into ``current``; every bad row of either stops it (``problems``)."""
    existing = current.entries if current is not None else ()
    columns = current.columns if current is not None else ()
    before = (*(current.problems if current is not None else ()), *incoming.problems)
    if before:
        return ImportPlan((), (), (), (), before, columns)
    merged: list[PhoneEntry] = list(existing)
    at = {entry.phone.id: index for index, entry in enumerate(existing)}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for entry in incoming.entries:
        index = at.get(entry.phone.id)
        if index is None:
            at[entry.phone.id] = len(merged)
            merged.append(entry)
            added.append(entry.phone.id)
            continue
        old = merged[index].phone
        given = {name: getattr(entry.phone, name) for name in PHONE_FIELDS if name in entry.given}
        new = dataclasses.replace(old, **given)
        if new == old:
            unchanged.append(entry.phone.id)
            continue
        merged[index] = dataclasses.replace(entry, phone=new)
        updated.append(entry.phone.id)
    problems = tuple(phone_problems(merged))
    phones = tuple(entry.phone for entry in merged)
    return ImportPlan(phones, tuple(added), tuple(updated), tuple(unchanged), problems, columns)
