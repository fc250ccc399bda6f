"""One ``replies`` worker process, wired: classifier, takeover check, alert notifications."""

from __future__ import annotations

from dataclasses import dataclass

from engine.alerts import AlertSink, NoAlerts, WebhookAlerts
from engine.clock import Clock
from engine.db import Database
from engine.replies.autoreply import AutoReplies
from engine.replies.notify import HttpNotifier
from engine.replies.rules import ReplyRules
from engine.replies.service import ReplyClassifier
from engine.replies.takeover import TakeoverCheck
from engine.settings import Settings


@dataclass
class ReplyRuntime:
    """Implements :class:`engine.replies.actors.ReplyJobs` for one worker process."""

    classifier: ReplyClassifier
    takeover: TakeoverCheck
    alerts: AlertSink

    def classify_reply(self, message_id: int) -> None:
        self.classifier.classify(message_id)

    def check_sent_message(self, event_id: int) -> None:
        self.takeover.check(event_id)

    def notify_alert(self, kind: str, message: str, severity: str, phone_id: str | None) -> None:
        self.alerts.notify(kind, message, severity=severity, phone_id=phone_id)


def build_reply_runtime(settings: Settings, database: Database, clock: Clock) -> ReplyRuntime:
    """The runtime of a ``replies`` worker from its settings and shared clients."""
    url = settings.alerts.webhook_url
    return ReplyRuntime(
        classifier=ReplyClassifier(
            database,
            ReplyRules(settings.replies),
            clock,
            HttpNotifier(),
            AutoReplies(settings.replies),
        ),
        takeover=TakeoverCheck(database, settings, clock),
        alerts=WebhookAlerts(url) if url else NoAlerts(),
    )
