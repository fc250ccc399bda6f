"""Export rows built from plain data: which messages land in which row, and the cells."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine.exports.rows import (
    EnrollmentData,
    ExportRow,
    Inbound,
    LeadData,
    Outbound,
    Reply,
    StepSent,
    csv_cells,
    csv_header,
    excel_safe,
    json_object,
    lead_rows,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEAD = LeadData(7, "+40712345678", {"first_name": "Ana", "last_name": "Pop", "city": "Iași"})


def _enrollment(id_: int, campaign: str = "intro", state: str = "active") -> EnrollmentData:
    return EnrollmentData(id_, 7, campaign, "01", state, None, T0, None)


def _out(enrollment_id: int, step: int, variant: int | None = 0) -> Outbound:
    at = T0 + timedelta(days=step)
    return Outbound(enrollment_id, step, at, at + timedelta(minutes=1), None, variant, "ab12")


def _in(id_: int, enrollment_id: int | None, minutes: int, text: str = "yes") -> Inbound:
    return Inbound(id_, enrollment_id, T0 + timedelta(minutes=minutes), text, "positive", ["buy"])


@pytest.mark.parametrize(
    ("enrollments", "outbound", "inbound", "expected"),
    [
        pytest.param(
            [], [], [], [("", (), 0, None)], id="never enrolled: one row, no campaign"
        ),
        pytest.param(
            [], [], [_in(1, None, 5, "who is this?"), _in(2, 3, 9, "other")],
            [("", (), 1, "who is this?")], id="never enrolled: only replies outside campaigns",
        ),
        pytest.param(
            [_enrollment(3)], [_out(3, 1), _out(3, 0), _out(4, 0)], [],
            [("intro", (1, 2), 0, None)], id="steps in order, only this enrollment's",
        ),
        pytest.param(
            [_enrollment(3), _enrollment(4, "later")], [_out(3, 0), _out(4, 0)],
            [_in(1, 3, 30, "first"), _in(2, 3, 10, "earlier but later id"), _in(3, 4, 1, "b")],
            [("intro", (1,), 2, "first"), ("later", (1,), 1, "b")],
            id="a row per campaign; the last reply is the latest by time",
        ),
    ],
)  # fmt: skip
def test_lead_rows(
    enrollments: list[EnrollmentData],
    outbound: list[Outbound],
    inbound: list[Inbound],
    expected: list[tuple[str, tuple[int, ...], int, str | None]],
) -> None:
    rows = lead_rows(LEAD, enrollments, outbound, inbound)
    found = [
        (
            r.campaign or "",
            tuple(s.step for s in r.steps),
            r.replies,
            r.last_reply.text if r.last_reply else None,
        )
        for r in rows
    ]
    assert found == expected
    assert all(r.number == LEAD.phone and r.name == "Ana Pop" for r in rows)


def test_steps_and_variants_count_from_one() -> None:
    [row] = lead_rows(LEAD, [_enrollment(3)], [_out(3, 0, variant=1), _out(3, 1, None)], [])
    assert [(s.step, s.variant) for s in row.steps] == [(1, 2), (2, None)]


def test_csv_header_has_each_step_s_fields() -> None:
    assert csv_header(2) == [
        "number", "name", "variables", "campaign", "phone_id", "state", "end_reason",
        "enrolled_at", "ended_at",
        "step_1_sent_at", "step_1_delivered_at", "step_1_read_at", "step_1_variant",
        "step_1_variant_id",
        "step_2_sent_at", "step_2_delivered_at", "step_2_read_at", "step_2_variant",
        "step_2_variant_id",
        "replies", "last_reply_at", "last_reply_text", "last_reply_class", "last_reply_intents",
    ]  # fmt: skip


ROW = ExportRow(
    number="+40712345678", variables={"name": "Ana", "city": "Iași"}, campaign="intro",
    phone_id="01", state="replied", end_reason="replied", enrolled_at=T0,
    ended_at=T0 + timedelta(hours=2),
    steps=(StepSent(1, T0, T0 + timedelta(seconds=5), None, 2, "ab12"),),
    replies=1, last_reply=Reply(T0 + timedelta(hours=2), "=1+1", "positive", ("buy", "call")),
)  # fmt: skip


@pytest.mark.parametrize(
    ("row", "steps", "excel", "expected"),
    [
        pytest.param(
            ROW, 2, False,
            ["+40712345678", "Ana", '{"city": "Iași", "name": "Ana"}', "intro", "01", "replied",
             "replied", "2026-03-02T09:00:00+00:00", "2026-03-02T11:00:00+00:00",
             "2026-03-02T09:00:00+00:00", "2026-03-02T09:00:05+00:00", "", "2", "ab12",
             "", "", "", "", "",
             "1", "2026-03-02T11:00:00+00:00", "=1+1", "positive", "buy;call"],
            id="a replied lead; step 2 never sent is empty",
        ),
        pytest.param(
            ROW, 0, True,
            ['="+40712345678"', "Ana", '{"city": "Iași", "name": "Ana"}', "intro", "01", "replied",
             "replied", "2026-03-02T09:00:00+00:00", "2026-03-02T11:00:00+00:00",
             "1", "2026-03-02T11:00:00+00:00", "'=1+1", "positive", "buy;call"],
            id="excel: the number keeps its +, a reply like a formula is quoted; no steps",
        ),
        pytest.param(
            ExportRow(number="+40712345678", variables={}), 1, False,
            ["+40712345678", "", "{}", "", "", "", "", "", "", "", "", "", "", "",
             "0", "", "", "", ""],
            id="never enrolled",
        ),
    ],
)  # fmt: skip
def test_csv_cells(row: ExportRow, steps: int, excel: bool, expected: list[str]) -> None:
    cells = csv_cells(row, steps, excel=excel)
    assert cells == expected
    assert len(cells) == len(csv_header(steps))


def test_json_object_keeps_variables_and_steps_structured() -> None:
    data = json_object(ROW)
    assert json.loads(json.dumps(data)) == {
        "number": "+40712345678", "name": "Ana", "variables": {"name": "Ana", "city": "Iași"},
        "campaign": "intro", "phone_id": "01", "state": "replied", "end_reason": "replied",
        "enrolled_at": "2026-03-02T09:00:00+00:00", "ended_at": "2026-03-02T11:00:00+00:00",
        "steps": [{"step": 1, "sent_at": "2026-03-02T09:00:00+00:00",
                   "delivered_at": "2026-03-02T09:00:05+00:00", "read_at": None,
                   "variant": 2, "variant_id": "ab12"}],
        "replies": 1,
        "last_reply": {"at": "2026-03-02T11:00:00+00:00", "text": "=1+1", "class": "positive",
                       "intents": ["buy", "call"]},
    }  # fmt: skip
    assert json_object(ExportRow(number="+1", variables={}))["last_reply"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+40 call me", "'+40 call me"), ("-5", "'-5"),
     ("@here", "'@here"), ("\tx", "'\tx"), ("yes = no", "yes = no"), ("", "")],
)  # fmt: skip
def test_excel_safe(text: str, expected: str) -> None:
    assert excel_safe(text) == expected


def test_times_are_written_in_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 2, 11, 0, tzinfo=ZoneInfo("Europe/Bucharest"))
    row = ExportRow(number="+1", variables={}, enrolled_at=local)
    assert json_object(row)["enrolled_at"] == "2026-03-02T09:00:00+00:00"
