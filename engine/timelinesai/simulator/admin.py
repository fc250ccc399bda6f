"""Admin endpoints under ``/_sim`` (not part of TimelinesAI's API): observe and steer.

``GET /_sim/requests`` the request log; ``GET /_sim/webhooks`` webhook deliveries;
``GET|POST /_sim/config`` read or change settings; ``POST /_sim/reset`` start
over; ``POST /_sim/accounts/{phone}/status`` connect, disconnect or ban a number;
``POST /_sim/inbound`` a lead writes now.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict

from engine.timelinesai.simulator.config import AccountStatus
from engine.timelinesai.simulator.dependencies import Sim
from engine.timelinesai.simulator.payloads import account_json, message_json
from engine.timelinesai.simulator.records import ApiError

router = APIRouter()


class AccountStatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AccountStatus


class InboundBody(BaseModel):
    """A lead's message: into ``chat_id``, or from ``phone`` to ``account_phone``."""

    model_config = ConfigDict(extra="forbid")

    text: str
    chat_id: int | None = None
    phone: str | None = None
    account_phone: str | None = None


@router.get("/requests")
async def requests(sim: Sim, since: int = 0) -> list[dict[str, Any]]:
    return [entry.to_json() for entry in sim.log.entries(since)]


@router.get("/webhooks")
async def deliveries(sim: Sim) -> list[dict[str, Any]]:
    return [delivery.to_json() for delivery in sim.webhooks.deliveries]


@router.get("/config")
async def get_config(sim: Sim) -> dict[str, Any]:
    return sim.config.to_json()


@router.post("/config")
async def change_config(sim: Sim, changes: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    sim.reconfigure(changes)
    return sim.config.to_json()


@router.post("/reset")
async def reset(sim: Sim) -> dict[str, Any]:
    sim.reset()
    return {"reset": True}


@router.post("/accounts/{phone}/status")
async def set_account_status(phone: str, body: AccountStatusBody, sim: Sim) -> dict[str, Any]:
    account = sim.workspace.set_account_status(phone, body.status)
    return account_json(account, sim.config)


@router.post("/inbound")
async def inbound(body: InboundBody, sim: Sim) -> dict[str, Any]:
    workspace = sim.workspace
    if body.chat_id is not None:
        chat_id = body.chat_id
    elif body.phone and body.account_phone:
        chat_id = workspace.chat_with(body.account_phone, body.phone, create=True).id
    else:
        raise ApiError(400, "give chat_id, or phone and account_phone")
    message = workspace.receive(chat_id, body.text)
    return message_json(message, workspace, sim.config, sim.clock.now())
