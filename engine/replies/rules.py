"""Classifying a reply's text: pure functions over keyword tables, no I/O.

Text and keywords are reduced to their words: Unicode-decomposed, accents and
other combining marks dropped, case-folded, split on anything that is not a
letter or digit. A keyword matches when its words appear consecutively in the
reply's words, so ``stop`` matches "STOP!" but not "nonstop", and ``opt out``
matches "Opt-out please".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.settings.replies import RepliesSettings, words
from engine.states import OPT_OUT

__all__ = [
    "HUMAN_REVIEW",
    "OPT_OUT",
    "OTHER",
    "OUT_OF_OFFICE",
    "Classification",
    "ReplyRules",
    "words",
]

HUMAN_REVIEW = "human_review"
OTHER = "other"
OUT_OF_OFFICE = "out_of_office"


@dataclass(frozen=True)
class Classification:
    """What a reply says: opt-out, the review priority (0: none), the named intents matched,
    and whether it is an out-of-office notice.

    ``matched`` maps each rule that matched (``opt_out``, ``out_of_office``,
    ``human_review`` or an intent name) to the keywords found. An out-of-office notice
    (and no opt-out) has no review priority and no intents: such notices say "urgent"
    and "manager" as a rule, and nobody need read them.
    """

    opt_out: bool = False
    review_priority: int = 0
    intents: tuple[str, ...] = ()
    matched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    out_of_office: bool = False

    @property
    def label(self) -> str:
        """The reply's class for reports: opt_out, out_of_office, human_review, the first
        intent, or other."""
        if self.opt_out:
            return OPT_OUT
        if self.out_of_office:
            return OUT_OF_OFFICE
        if HUMAN_REVIEW in self.matched:
            return HUMAN_REVIEW
        return self.intents[0] if self.intents else OTHER


@dataclass(frozen=True)
class _Rule:
    name: str
    keywords: tuple[tuple[str, str], ...]  # (as configured, as words)
    review_priority: int
    notify_url: str | None

    def found(self, padded_text: str) -> tuple[str, ...]:
        return tuple(raw for raw, norm in self.keywords if f" {norm} " in padded_text)


class ReplyRules:
    """The configured rules, normalised once; :meth:`classify` is pure and fast."""

    def __init__(self, settings: RepliesSettings) -> None:
        def rule(name: str, keywords: tuple[str, ...], priority: int, url: str | None) -> _Rule:
            return _Rule(name, tuple((k, words(k)) for k in keywords), priority, url)

        self._opt_out = rule(OPT_OUT, settings.opt_out, 0, settings.opt_out_notify_url)
        self._review = rule(
            HUMAN_REVIEW,
            settings.human_review,
            settings.human_review_priority,
            settings.human_review_notify_url,
        )
        self._intents = tuple(
            rule(name, intent.keywords, intent.review_priority, intent.notify_url)
            for name, intent in settings.intents.items()
        )
        away = settings.out_of_office
        self._away = rule(OUT_OF_OFFICE, away.keywords if away.enabled else (), 0, None)

    def is_opt_out(self, text: str) -> bool:
        """True when ``text`` holds an opt-out keyword (the webhook decides this in-request)."""
        return bool(self._opt_out.found(f" {words(text)} "))

    def is_out_of_office(self, text: str) -> bool:
        """True when ``text`` is an out-of-office notice and no opt-out (decided in-request:
        it postpones the lead's next step instead of ending the sequence)."""
        padded = f" {words(text)} "
        return bool(self._away.found(padded)) and not self._opt_out.found(padded)

    def classify(self, text: str) -> Classification:
        """Every rule ``text`` matches, its review priority and its named intents (none
        of either for an out-of-office notice)."""
        padded = f" {words(text)} "
        matched: dict[str, tuple[str, ...]] = {}
        priority = 0
        intents: list[str] = []
        away = self._away.found(padded)
        if away:
            matched[OUT_OF_OFFICE] = away
        if away and not self._opt_out.found(padded):
            return Classification(matched=matched, out_of_office=True)
        for rule in (self._opt_out, self._review, *self._intents):
            found = rule.found(padded)
            if not found:
                continue
            matched[rule.name] = found
            priority = max(priority, rule.review_priority)
            if rule not in (self._opt_out, self._review):
                intents.append(rule.name)
        return Classification(OPT_OUT in matched, priority, tuple(intents), matched)

    def notify_urls(self, classification: Classification) -> dict[str, str]:
        """The notification URL of each matched rule that has one, by rule name."""
        urls = {}
        for rule in (self._opt_out, self._review, *self._intents):
            if rule.name in classification.matched and rule.notify_url:
                urls[rule.name] = rule.notify_url
        return urls
