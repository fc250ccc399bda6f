"""The demo's leads: Romanian and international numbers, a few of them unusable."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

_FIRST = ("Ana", "Ion", "Maria", "Andrei", "Elena", "Mihai", "Ioana", "Radu", "Sofia", "Luca")
_COMPANIES = ("Acme", "Nordic Tea", "Carpati SRL", "Blue Fjord", "Danube Labs", "Solaris")
# (prefix, digits after it): real mobile ranges, so phonenumbers accepts them.
_INTERNATIONAL = (("+447700", 6), ("+4915112", 6), ("+3361234", 4), ("+3934712", 5))
# Rows a lead import rejects: no country, too short, not a number.
_MALFORMED = ("12345", "+40 12", "call me maybe")


@dataclass(frozen=True)
class DemoLeads:
    """The CSV text, the number the simulator will call invalid, and the malformed rows."""

    csv_text: str
    numbers: tuple[str, ...]
    invalid_number: str
    malformed: int


def generate_leads(count: int, rng: random.Random) -> DemoLeads:
    """``count`` rows: about 70% Romanian (some written nationally), the rest foreign.

    Three rows are malformed (the import rejects them); one good-looking Romanian
    number is the one the simulator will answer "not on WhatsApp".
    """
    good = max(count - len(_MALFORMED), 2)
    numbers: list[str] = []
    seen: set[str] = set()
    while len(numbers) < good:
        if rng.random() < 0.7:
            number = f"+407{rng.choice('2345')}{rng.randrange(10**7):07d}"
        else:
            prefix, digits = rng.choice(_INTERNATIONAL)
            number = prefix + f"{rng.randrange(10**digits):0{digits}d}"
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    invalid = numbers[len(numbers) // 2]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["phone", "name", "company"])
    for index, number in enumerate(numbers):
        written = number
        if number.startswith("+40") and index % 5 == 0:
            written = "0" + number[3:6] + " " + number[6:9] + " " + number[9:]  # 07xx xxx xxx
        writer.writerow([written, rng.choice(_FIRST), rng.choice(_COMPANIES)])
    for text in _MALFORMED:
        writer.writerow([text, rng.choice(_FIRST), rng.choice(_COMPANIES)])
    return DemoLeads(buffer.getvalue(), tuple(numbers), invalid, len(_MALFORMED))
