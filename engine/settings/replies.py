"""The ``[replies]`` table: which words in a lead's reply mean what.

Keywords match whole words (or whole runs of words), ignoring case and diacritics:
``dezabonare`` matches ``Dezabonare``, ``pret`` matches ``preț``. The defaults cover
English and Romanian; a config that sets a list replaces the default list, and a
config with any ``[replies.intents.*]`` table replaces the default intents.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import ConfigError

__all__ = [
    "DEFAULT_HUMAN_REVIEW",
    "DEFAULT_INTENTS",
    "DEFAULT_OPT_OUT",
    "DEFAULT_OUT_OF_OFFICE",
    "IntentRule",
    "OutOfOfficeSettings",
    "RepliesSettings",
    "validate_replies",
    "words",
]

DEFAULT_OPT_OUT: tuple[str, ...] = (
    "stop",
    "unsubscribe",
    "opt out",
    "remove me",
    "do not contact",
    "dezabonare",
    "dezabonez",
    "dezaboneaza",
    "nu ma mai contactati",
)
DEFAULT_HUMAN_REVIEW: tuple[str, ...] = (
    "urgent",
    "manager",
    "avocat",
    "lawyer",
    "pret",
    "price",
    "discount",
    "reclamatie",
    "complaint",
    "gdpr",
    "anpc",
)
DEFAULT_OUT_OF_OFFICE: tuple[str, ...] = (
    "out of office",
    "out of the office",
    "on vacation",
    "on holiday",
    "on leave",
    "away until",
    "automatic reply",
    "auto reply",
    "autoreply",
    "abwesend",
    "abwesenheitsnotiz",
    "nicht im buro",
    "en conge",
    "absent du bureau",
    "reponse automatique",
    "fuera de la oficina",
    "de vacaciones",
    "respuesta automatica",
    "in concediu",
    "raspuns automat",
)
MAX_PRIORITY = 3
_WORD = re.compile(r"[^\W_]+")
_INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_RESERVED = frozenset({"opt_out", "human_review", "out_of_office"})


@dataclass(frozen=True)
class IntentRule:
    """``[replies.intents.NAME]``: a named intent stored on matching replies for the reports.

    ``review_priority`` above 0 also raises a review flag with that priority (1-3);
    ``notify_url`` receives a JSON POST for each matching reply; ``auto_reply`` (a
    spintax template) is sent back to the lead, once per lead.
    """

    keywords: tuple[str, ...] = ()
    review_priority: int = 0
    notify_url: str | None = None
    auto_reply: str | None = None


DEFAULT_INTENTS: dict[str, IntentRule] = {
    "pricing": IntentRule(
        ("pret", "price", "cost", "costa", "oferta", "offer", "quote", "tarif", "discount")
    ),
    "complaint": IntentRule(
        ("reclamatie", "complaint", "nemultumit", "problema", "problem", "anpc"),
        review_priority=3,
    ),
    "schedule_call": IntentRule(
        ("call", "suna", "sunati", "meeting", "intalnire", "programare", "schedule")
    ),
}


@dataclass(frozen=True)
class OutOfOfficeSettings:
    """``[replies.out_of_office]``: a reply with one of these phrases is an automatic
    absence notice. It ends nothing: the lead's next step waits until the date the reply
    says the lead is back, else ``delay_days``, and never more than ``max_days`` (days
    of the engine clock). An opt-out in the same reply wins; review words and intents in
    it do not count (absence notices say "urgent" and "manager" as a rule).
    """

    enabled: bool = True
    keywords: tuple[str, ...] = DEFAULT_OUT_OF_OFFICE
    delay_days: float = 7.0
    max_days: float = 30.0


@dataclass(frozen=True)
class RepliesSettings:
    """``[replies]``: opt-out and review words, their notification URLs and automatic
    answers, named intents, the review SLA, the read for a reply before a follow-up and
    the out-of-office rule.

    ``review_sla_h`` is virtual hours: an open review flag older than that is overdue.
    """

    opt_out: tuple[str, ...] = DEFAULT_OPT_OUT
    opt_out_notify_url: str | None = None
    opt_out_auto_reply: str | None = None
    human_review: tuple[str, ...] = DEFAULT_HUMAN_REVIEW
    human_review_priority: int = 2
    human_review_notify_url: str | None = None
    human_review_auto_reply: str | None = None
    intents: dict[str, IntentRule] = field(default_factory=lambda: dict(DEFAULT_INTENTS))
    check_before_followup: bool = True
    review_sla_h: float = 24.0
    out_of_office: OutOfOfficeSettings = field(default_factory=OutOfOfficeSettings)

    def auto_replies(self) -> dict[str, str]:
        """Each configured automatic answer's template by its key in the config."""
        found = {
            "replies.opt_out_auto_reply": self.opt_out_auto_reply,
            "replies.human_review_auto_reply": self.human_review_auto_reply,
        }
        for name, rule in self.intents.items():
            found[f"replies.intents.{name}.auto_reply"] = rule.auto_reply
        return {key: text for key, text in found.items() if text is not None}


def words(text: str) -> str:
    """The words of ``text``, accent-free and case-folded, joined by single spaces: how a
    reply and every keyword are read before they are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_WORD.findall(bare.casefold()))


def validate_replies(replies: RepliesSettings, fail: Callable[[str, str], ConfigError]) -> None:
    """Raise ``fail(key, message)`` for a keyword with no words (it could never match), a
    bad priority, URL or intent name."""
    lists = {"replies.opt_out": replies.opt_out, "replies.human_review": replies.human_review}
    lists |= {f"replies.intents.{n}.keywords": r.keywords for n, r in replies.intents.items()}
    lists["replies.out_of_office.keywords"] = replies.out_of_office.keywords
    for key, keywords in lists.items():
        for index, keyword in enumerate(keywords):
            if not words(keyword):
                raise fail(f"{key}[{index}]", f"{keyword!r} has no letters or digits to match")
    if not 1 <= replies.human_review_priority <= MAX_PRIORITY:
        raise fail("replies.human_review_priority", f"must be from 1 to {MAX_PRIORITY}")
    if replies.review_sla_h <= 0:
        raise fail("replies.review_sla_h", "must be a positive number of hours")
    away = replies.out_of_office
    if not 0 < away.delay_days <= away.max_days:
        raise fail(
            "replies.out_of_office.delay_days",
            "must be a positive number of days, at most max_days",
        )
    urls = {
        "replies.opt_out_notify_url": replies.opt_out_notify_url,
        "replies.human_review_notify_url": replies.human_review_notify_url,
    }
    for name, rule in replies.intents.items():
        key = f"replies.intents.{name}"
        if not _INTENT_NAME.match(name) or name in _RESERVED:
            raise fail(
                key,
                "an intent name is 1-32 lowercase letters, digits or _ "
                "(and not opt_out, human_review or out_of_office)",
            )
        if not rule.keywords:
            raise fail(f"{key}.keywords", "list at least one keyword")
        if not 0 <= rule.review_priority <= MAX_PRIORITY:
            raise fail(f"{key}.review_priority", f"must be from 0 (no review) to {MAX_PRIORITY}")
        urls[f"{key}.notify_url"] = rule.notify_url
    for key, url in urls.items():
        if url is not None and not url.startswith(("http://", "https://")):
            raise fail(key, "must be an http(s) URL")
