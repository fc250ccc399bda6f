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
    "Classification",
    "ReplyRules",
    "words",
]

HUMAN_REVIEW = "human_review"
OTHER = "other"


@dataclass(frozen=True)
class Classification:
    """What a reply says: opt-out, the review priority (0: none), the named intents matched.

    ``matched`` maps each rule that matched (``opt_out``, ``human_review`` or an
    intent name) to the keywords found.
    """

    opt_out: bool = False
    review_priority: int = 0
    intents: tuple[str, ...] = ()
    matched: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The reply's class for reports: opt_out, human_review, the first intent, or other."""
        if self.opt_out:
            return OPT_OUT
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

    def is_opt_out(self, text: str) -> bool:
        """True when ``text`` holds an opt-out keyword (the webhook decides this in-request)."""
        return bool(self._opt_out.found(f" {words(text)} "))

    def classify(self, text: str) -> Classification:
        """Every rule ``text`` matches, its review priority and its named intents."""
        padded = f" {words(text)} "
        matched: dict[str, tuple[str, ...]] = {}
        priority = 0
        intents: list[str] = []
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
