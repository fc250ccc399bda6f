"""Which automatic answer a classified reply gets, if any. Pure: rules in, a template out.

A rule may carry ``auto_reply`` (``[replies] opt_out_auto_reply``,
``human_review_auto_reply``, ``[replies.intents.NAME] auto_reply``), off by default.
An opt-out gets only the opt-out rule's answer (a confirmation) or none; otherwise the
first rule that matched and has an answer wins: human review, then the intents in
the order the config lists them. The answer is rendered for the lead (variables and
fallbacks, spintax seeded by the reply) and sent once per lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import spintax
from engine.replies.rules import HUMAN_REVIEW, OPT_OUT, Classification
from engine.settings.replies import RepliesSettings


@dataclass(frozen=True)
class AutoAnswer:
    """The rule whose answer a reply gets, and the text rendered for its lead."""

    rule: str
    text: str


class AutoReplies:
    """The configured answers, parsed once; :meth:`answer` is pure."""

    def __init__(self, settings: RepliesSettings) -> None:
        sources = {
            OPT_OUT: settings.opt_out_auto_reply,
            HUMAN_REVIEW: settings.human_review_auto_reply,
            **{name: rule.auto_reply for name, rule in settings.intents.items()},
        }
        self._templates = {
            rule: spintax.parse(source) for rule, source in sources.items() if source is not None
        }

    def __bool__(self) -> bool:
        return bool(self._templates)

    def rule_for(self, classification: Classification) -> str | None:
        """The rule whose answer this reply gets, or ``None``."""
        if classification.opt_out:
            return OPT_OUT if OPT_OUT in self._templates else None
        order = ([HUMAN_REVIEW] if HUMAN_REVIEW in classification.matched else []) + list(
            classification.intents
        )
        return next((rule for rule in order if rule in self._templates), None)

    def answer(
        self, classification: Classification, variables: Mapping[str, str], *, seed: str
    ) -> AutoAnswer | None:
        """The answer for a lead with ``variables``; ``None`` when no rule has one or the
        lead lacks a variable the answer needs (no answer beats a broken one)."""
        rule = self.rule_for(classification)
        if rule is None:
            return None
        try:
            rendered = self._templates[rule].render(variables, seed=seed)
        except spintax.MissingVariableError:
            return None
        return AutoAnswer(rule, rendered.text)
