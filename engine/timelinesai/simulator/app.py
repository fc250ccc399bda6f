"""The simulator as an ASGI app: the API under ``/integrations/api``, admin under ``/_sim``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from engine.errors import ConfigError
from engine.timelinesai.simulator import admin, routes_messages, routes_workspace
from engine.timelinesai.simulator.config import SimulatorConfig
from engine.timelinesai.simulator.core import Simulator
from engine.timelinesai.simulator.middleware import API_PREFIX, SimulatorMiddleware
from engine.timelinesai.simulator.payloads import error
from engine.timelinesai.simulator.records import ApiError


def create_app(config: SimulatorConfig | None = None, *, log_file: Path | None = None) -> FastAPI:
    """A fresh simulator and its app; ``log_file`` receives the request log as JSON lines."""
    simulator = Simulator(config or SimulatorConfig(), log_file=log_file)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await simulator.aclose()

    # No slash redirects: like TimelinesAI, "/messages/" is a 404, not "/messages".
    app = FastAPI(title="TimelinesAI simulator", lifespan=lifespan, redirect_slashes=False)
    app.state.simulator = simulator
    app.add_middleware(SimulatorMiddleware, simulator=simulator)
    app.include_router(routes_messages.router, prefix=API_PREFIX)
    app.include_router(routes_workspace.router, prefix=API_PREFIX)
    app.include_router(admin.router, prefix="/_sim")

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error(exc.message), status_code=exc.status_code)

    @app.exception_handler(ConfigError)
    async def config_error(_request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse(error(str(exc)), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'][1:])}: {item['msg']}"
            for item in exc.errors()
        )
        return JSONResponse(error(problems or "invalid request"), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(error(str(exc.detail)), status_code=exc.status_code)

    return app
