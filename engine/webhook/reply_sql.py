"""A reply applied on PostgreSQL in one statement: one round trip, atomic by itself.

The statement finds the lead (by number, else by chat id) and its enrollment (the
running one first), decides whether it stops (running, and an opt-out or a sequence
that stops on reply), records the event once and, only if the event row was new, ends
or notes the enrollment, stores the message with the step it answers and suppresses
an opt-out (dropping the lead's automatic answers not sent yet, so only the opt-out
confirmation may still answer it). An ended enrollment's queued step goes back to
``due`` so it stops holding a place in its phone's queue; a step found ``sending`` was
claimed before this reply and is returned as in flight. SQLite takes the same steps
one statement at a time in one transaction (:mod:`engine.webhook.inbound`).

No lock is waited for but the enrollment's row lock, which a claim or a record holds
for one statement: the send path's claim re-checks the enrollment in the same row, so
whichever commits first wins and no step is claimed after this commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from engine.models import RUNNING_STATES
from engine.webhook.payloads import MessageEvent
from sequences.journey import EndReason, end_state

_APPLY = text("""
WITH by_phone AS (
    SELECT l.id AS lead_id, e.id AS eid, e.state, e.phone_id, e.sequence
    FROM leads l LEFT JOIN enrollments e ON e.lead_id = l.id
    WHERE l.phone = CAST(:peer AS varchar)
    ORDER BY e.state = ANY(CAST(:running AS varchar[])) DESC NULLS LAST,
             e.phone_id = CAST(:recv AS varchar) DESC NULLS LAST, e.id DESC
    LIMIT 1
), by_chat AS (
    SELECT e.lead_id, e.id AS eid, e.state, e.phone_id, e.sequence
    FROM enrollments e
    WHERE e.chat_id = CAST(:chat AS bigint) AND NOT EXISTS (SELECT 1 FROM by_phone)
    ORDER BY e.state = ANY(CAST(:running AS varchar[])) DESC,
             e.phone_id = CAST(:recv AS varchar) DESC NULLS LAST, e.id DESC
    LIMIT 1
), target AS (
    SELECT lead_id, eid, phone_id, sequence,
           state = ANY(CAST(:running AS varchar[]))
           AND (CAST(:opt_out AS boolean) OR NOT sequence = ANY(CAST(:keep AS varchar[])))
           AS stop
    FROM (SELECT * FROM by_phone UNION ALL SELECT * FROM by_chat) AS found
), event AS (
    INSERT INTO webhook_events (dedupe_key, event_type, payload, received_at, processed_at)
    SELECT :key, :event_type, CAST(:payload AS json), CAST(:now AS timestamptz),
           CAST(:now AS timestamptz)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
), ended AS (
    UPDATE enrollments AS e
    SET state = CAST(:end_state AS varchar), end_reason = CAST(:end_reason AS varchar),
        ended_at = CAST(:now AS timestamptz), updated_at = CAST(:now AS timestamptz),
        chat_id = COALESCE(e.chat_id, CAST(:chat AS bigint)),
        step_state = CASE WHEN e.step_state = 'queued' THEN 'due' ELSE e.step_state END,
        queued_at = CASE WHEN e.step_state = 'queued' THEN NULL ELSE e.queued_at END
    FROM target AS t
    WHERE e.id = t.eid AND t.stop AND e.state = ANY(CAST(:running AS varchar[]))
      AND EXISTS (SELECT 1 FROM event)
    RETURNING e.id, CASE WHEN e.step_state = 'sending' THEN e.step END AS in_flight
), chat AS (
    UPDATE enrollments AS e SET chat_id = CAST(:chat AS bigint)
    FROM target AS t
    WHERE e.id = t.eid AND NOT t.stop AND e.chat_id IS NULL
      AND CAST(:chat AS bigint) IS NOT NULL AND EXISTS (SELECT 1 FROM event)
), answered AS (
    SELECT max(o.step) AS step FROM messages o
    WHERE o.enrollment_id = (SELECT eid FROM target) AND o.direction = 'out'
), message AS (
    INSERT INTO messages (direction, enrollment_id, lead_id, phone_id, chat_id, message_uid,
                          text, status, sent_at, created_at, attachments, peer_phone, origin,
                          step, in_flight_step)
    SELECT 'in', (SELECT eid FROM target), (SELECT lead_id FROM target),
           COALESCE(CAST(:recv AS varchar), (SELECT phone_id FROM target)),
           CAST(:chat AS bigint), :uid, :text, 'received', CAST(:sent_at AS timestamptz),
           CAST(:now AS timestamptz), CAST(:attachments AS json), CAST(:peer AS varchar),
           CAST(:origin AS varchar), (SELECT step FROM answered),
           (SELECT in_flight FROM ended)
    WHERE EXISTS (SELECT 1 FROM event)
    ON CONFLICT (message_uid) DO NOTHING
    RETURNING id
), dropped AS (
    DELETE FROM auto_replies
    WHERE lead_id = (SELECT lead_id FROM target) AND CAST(:opt_out AS boolean)
      AND state IN ('due', 'queued') AND rule <> 'opt_out' AND EXISTS (SELECT 1 FROM event)
), suppressed AS (
    INSERT INTO suppressions (phone, reason, source, created_at)
    SELECT CAST(:peer AS varchar), 'opt_out', :source, CAST(:now AS timestamptz)
    WHERE CAST(:opt_out AS boolean) AND CAST(:peer AS varchar) IS NOT NULL
      AND EXISTS (SELECT 1 FROM event)
    ON CONFLICT (phone) DO NOTHING
)
SELECT (SELECT id FROM event), (SELECT count(*) FROM ended), (SELECT id FROM message),
       (SELECT lead_id FROM target), (SELECT eid FROM target), (SELECT in_flight FROM ended)
""")


@dataclass(frozen=True)
class Applied:
    """The statement's outcome: the new event's id (``None``: a redelivery), whether it
    ended the enrollment, the stored message, the lead and enrollment, the step in flight."""

    event_id: int | None
    ended: bool
    message_id: int | None
    lead_id: int | None
    enrollment_id: int | None
    in_flight_step: int | None


def apply_reply(
    connection: Connection,
    event: MessageEvent,
    payload: dict[str, Any],
    *,
    receiving: str | None,
    keep_running: list[str],
    opt_out: bool,
    reason: EndReason,
    now: Any,
) -> Applied:
    """Run the statement. ``keep_running``: the sequences that do not stop on a reply;
    ``reason``: why the lead's enrollment ends (the journey gives its state)."""
    attachments = [a.to_json() for a in event.attachments]
    row = connection.execute(
        _APPLY,
        {
            "key": event.dedupe_key, "event_type": event.event_type,
            "payload": json.dumps(payload), "chat": event.chat_id, "uid": event.message_uid,
            "text": event.text, "sent_at": event.timestamp or now,
            "attachments": json.dumps(attachments) if attachments else None,
            "peer": event.peer_phone, "origin": event.origin,
            "source": f"reply {event.message_uid}", "recv": receiving,
            "keep": keep_running, "opt_out": opt_out, "now": now,
            "running": sorted(RUNNING_STATES), "end_state": end_state(reason),
            "end_reason": reason.value,
        },
    ).one()  # fmt: skip
    return Applied(row[0], bool(row[1]), row[2], row[3], row[4], row[5])
