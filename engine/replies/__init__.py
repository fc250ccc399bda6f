"""Replies: what a lead's answer means (keyword rules) and the ``replies`` queue's work.

Pure parts are re-exported here (the ``[replies]`` table itself is the settings',
:mod:`engine.settings.replies`); the service and actors live in
:mod:`engine.replies.service` and :mod:`engine.replies.actors`.
"""

from engine.replies.followups import REPLIES_QUEUE, Enqueue, FollowUp
from engine.replies.rules import (
    HUMAN_REVIEW,
    OPT_OUT,
    OTHER,
    OUT_OF_OFFICE,
    Classification,
    ReplyRules,
    words,
)
from engine.settings.replies import DEFAULT_INTENTS, IntentRule, RepliesSettings

__all__ = [
    "DEFAULT_INTENTS",
    "HUMAN_REVIEW",
    "OPT_OUT",
    "OTHER",
    "OUT_OF_OFFICE",
    "REPLIES_QUEUE",
    "Classification",
    "Enqueue",
    "FollowUp",
    "IntentRule",
    "RepliesSettings",
    "ReplyRules",
    "words",
]
