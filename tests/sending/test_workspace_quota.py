"""The workspace message quota on the scheduler's cron: read from the simulator, kept in
Redis, sending halted at the reserve (nothing sent, nothing lost, no dead letter) and
resumed when a reading shows room again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import redis
from sqlmodel import select

from engine.jobs.workspace_quota import check_workspace_quota
from engine.models import Alert, StepState
from engine.sending.halt import RedisHalt
from engine.settings import Settings, WorkspaceSettings
from engine.states import DEAD_LETTER, WORKSPACE_QUOTA
from engine.timelinesai import TimelinesAIClient, WorkspaceQuotas
from engine.workspace_quota import load_reading, messages_halt_key, quota_halted
from tests.sending.conftest import Harness

LEADS = ("+40712345601", "+40712345602", "+40712345603")


def _settings(harness: Harness, namespace: str, reserve: int) -> Settings:
    return replace(
        harness.settings,
        redis=replace(harness.settings.redis, namespace=namespace),
        workspace=WorkspaceSettings(reserve_messages=reserve),
    )


def _alerts(harness: Harness, kind: str) -> list[Alert]:
    with harness.database.session() as session:
        return list(session.exec(select(Alert).where(Alert.kind == kind)))


def test_sending_halts_at_the_reserve_and_resumes_when_there_is_room(
    harness: Harness, redis_client: redis.Redis, redis_namespace: str
) -> None:
    settings = _settings(harness, redis_namespace, reserve=2)
    harness.sender.halt = RedisHalt(
        redis_client, namespace=redis_namespace, ttl_s=300, recheck_s=0.0,
        also=(messages_halt_key(redis_namespace),),
    )  # fmt: skip
    harness.sim.configure(messages_per_month=3)
    client = harness.sender.client

    def check() -> bool:
        now = harness.clock.now()
        return check_workspace_quota(now, client, redis_client, harness.database, settings).halted

    first, second = (harness.enroll(phone) for phone in LEADS[:2])
    third = harness.enroll(LEADS[2], phone_id="02")  # phone 01 is still pacing by then
    assert not check()  # 3 left, above the reserve of 2
    assert harness.send(first, 0).reason == "sent"
    assert harness.sends() == 1

    assert check()  # 2 left: at the reserve, every send halts
    assert quota_halted(redis_client, redis_namespace)
    reading = load_reading(redis_client, redis_namespace)
    assert reading is not None and (reading.limit, reading.left) == (3, 2)
    [alert] = _alerts(harness, WORKSPACE_QUOTA)
    assert "only 2 of 3 TimelinesAI workspace messages are left" in alert.message

    halted = harness.send(second, 0)
    assert halted.reason.startswith("back to due")
    assert harness.sends() == 1  # nothing reached TimelinesAI
    waiting = harness.enrollment(second)
    assert (waiting.state, waiting.step, waiting.step_state) == ("pending", 0, StepState.DUE)
    assert waiting.last_error is None
    assert _alerts(harness, DEAD_LETTER) == []
    assert harness.quota_used() == 1  # the halted send took no unit of the day's quota

    assert check()  # still at the reserve: no second alert
    assert len(_alerts(harness, WORKSPACE_QUOTA)) == 1

    harness.sim.configure(messages_per_month=100)  # more seats
    assert not check()
    assert not quota_halted(redis_client, redis_namespace)
    assert harness.send(third, 0, "02").reason == "sent"
    assert harness.sends() == 2


def test_an_unreadable_answer_leaves_the_halt_as_it_was(
    harness: Harness, redis_client: redis.Redis, redis_namespace: str
) -> None:
    settings = _settings(harness, redis_namespace, reserve=100)
    harness.sim.configure(messages_per_month=50)
    now = harness.clock.now()
    client = harness.sender.client
    assert check_workspace_quota(now, client, redis_client, harness.database, settings).halted
    # The answer loses its figures: nothing known, so nothing lifts the halt.
    unreadable = cast(TimelinesAIClient, _Answers({"something": "else"}))
    check = check_workspace_quota(now, unreadable, redis_client, harness.database, settings)
    assert check.halted and check.message is None
    assert check.reading.left is None
    assert quota_halted(redis_client, redis_namespace)


class _Answers:
    """A client whose quotas answer is ``raw``."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def workspace_quotas(self) -> WorkspaceQuotas:
        return WorkspaceQuotas(raw=self.raw)
