"""The PostgreSQL reply store: a reply applied in one statement, one round trip.

The statement finds the lead (by number, else by chat id) and its enrollment (the
running one first), decides whether it stops (running, and an opt-out or a sequence
that stops on reply), records the event once and, only if the event row was new, ends
or notes the enrollment, stores the message with the step it answers and suppresses
an opt-out (dropping the lead's automatic answers not sent yet, so only the opt-out
confirmation may still answer it), postpones the next step of an out-of-office reply's
enrollment instead of ending it (:func:`engine.storage.replies.postpone`), and pauses
or stops the running enrollments of the lead's colleagues
(:mod:`engine.storage.colleagues`; not for an out-of-office reply). An ended
enrollment's queued step goes back to
``due`` so it stops holding a place in its phone's queue; a step found ``sending`` was
claimed before this reply and is returned as in flight. SQLite takes the same steps
one statement at a time in one transaction (:mod:`engine.storage.replies`).

No lock is waited for but the enrollment's row lock, which a claim or a record holds
for one statement: the send path's claim re-checks the enrollment in the same row, so
whichever commits first wins and no step is claimed after this commits.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text

from engine.db import Database
from engine.models import RUNNING_STATES
from engine.storage.base import Applied, Reply
from engine.storage.colleagues import PAUSED
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
           AND NOT CAST(:away AS boolean)
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
), postponed AS (
    UPDATE enrollments AS e
    SET due_at = CAST(:resume_at AS timestamptz), updated_at = CAST(:now AS timestamptz),
        chat_id = COALESCE(e.chat_id, CAST(:chat AS bigint)),
        step_state = CASE WHEN e.step_state = 'queued' THEN 'due' ELSE e.step_state END,
        queued_at = CASE WHEN e.step_state = 'queued' THEN NULL ELSE e.queued_at END
    FROM target AS t
    WHERE e.id = t.eid AND CAST(:away AS boolean) AND e.state = ANY(CAST(:running AS varchar[]))
      AND e.step_state IN ('due', 'queued', 'sending') AND EXISTS (SELECT 1 FROM event)
    RETURNING e.id
), chat AS (
    UPDATE enrollments AS e SET chat_id = CAST(:chat AS bigint)
    FROM target AS t
    WHERE e.id = t.eid AND NOT t.stop AND e.chat_id IS NULL
      AND CAST(:chat AS bigint) IS NOT NULL AND EXISTS (SELECT 1 FROM event)
      AND NOT EXISTS (SELECT 1 FROM postponed)
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
), company AS (
    SELECT l.id AS lead_id, l.company_key AS key FROM leads l
    WHERE l.id = (SELECT lead_id FROM target) AND l.company_key IS NOT NULL
      AND EXISTS (SELECT 1 FROM event) AND NOT CAST(:away AS boolean)
), held AS (
    UPDATE enrollments AS e
    SET state = CASE WHEN e.sequence = ANY(CAST(:company_stop AS varchar[]))
                     THEN CAST(:company_stopped AS varchar) ELSE CAST(:paused AS varchar) END,
        end_reason = CAST(:company_reason AS varchar),
        ended_at = CASE WHEN e.sequence = ANY(CAST(:company_stop AS varchar[]))
                        THEN CAST(:now AS timestamptz) ELSE e.ended_at END,
        updated_at = CAST(:now AS timestamptz),
        step_state = CASE WHEN e.step_state = 'queued' THEN 'due' ELSE e.step_state END,
        queued_at = CASE WHEN e.step_state = 'queued' THEN NULL ELSE e.queued_at END
    FROM leads AS c, company
    WHERE c.company_key = company.key AND c.id <> company.lead_id AND e.lead_id = c.id
      AND e.state = ANY(CAST(:running AS varchar[]))
      AND NOT e.sequence = ANY(CAST(:company_keep AS varchar[]))
    RETURNING e.id
)
SELECT (SELECT id FROM event), (SELECT count(*) FROM ended), (SELECT id FROM message),
       (SELECT lead_id FROM target), (SELECT eid FROM target), (SELECT in_flight FROM ended),
       (SELECT count(*) FROM held), (SELECT count(*) FROM postponed)
""")


class PostgresReplyStore:
    """:class:`~engine.storage.base.ReplyStore` in one statement; see the module doc."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def apply(
        self, reply: Reply, *, keep_running: frozenset[str], now: datetime,
        company_stop: frozenset[str] = frozenset(), company_keep: frozenset[str] = frozenset(),
    ) -> Applied:  # fmt: skip
        params = {
            "key": reply.dedupe_key, "event_type": reply.event_type,
            "payload": json.dumps(reply.payload), "chat": reply.chat_id,
            "uid": reply.message_uid, "text": reply.text, "sent_at": reply.sent_at or now,
            "attachments": json.dumps(reply.attachments) if reply.attachments else None,
            "peer": reply.peer_phone, "origin": reply.origin,
            "source": f"reply {reply.message_uid}", "recv": reply.receiving,
            "keep": sorted(keep_running), "opt_out": reply.opt_out, "now": now,
            "running": sorted(RUNNING_STATES), "end_state": end_state(reply.reason),
            "end_reason": reply.reason.value, "company_stop": sorted(company_stop),
            "company_keep": sorted(company_keep), "paused": PAUSED,
            "company_stopped": end_state(EndReason.COMPANY_REPLIED),
            "company_reason": EndReason.COMPANY_REPLIED.value, "away": reply.away,
            "resume_at": reply.resume_at,
        }  # fmt: skip
        # Atomic by itself: one round trip with no BEGIN or ROLLBACK around it.
        with self.database.autocommit() as connection:
            row = connection.execute(_APPLY, params).one()
        event_id, ended, message_id, lead_id, eid, in_flight, held, postponed = row
        if event_id is None:
            return Applied(False, None, lead_id, eid)
        return Applied(
            True, message_id, lead_id, eid, bool(ended), in_flight, int(held), bool(postponed)
        )
