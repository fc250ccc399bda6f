"""How a route reaches the simulator that serves it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from engine.timelinesai.simulator.core import Simulator


def simulator(request: Request) -> Simulator:
    """The simulator serving this request (``create_app`` puts it on the app's state)."""
    sim = request.app.state.simulator
    if not isinstance(sim, Simulator):
        raise TypeError("the app was not built by create_app")
    return sim


Sim = Annotated[Simulator, Depends(simulator)]
