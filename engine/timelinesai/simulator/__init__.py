"""A local stand-in for TimelinesAI: the same API over real HTTP, with faults and leads.

``outreach simulator serve`` runs it in the foreground; tests use
``with running_simulator(config) as sim:`` for a server on a free loopback port.
"""

from engine.timelinesai.simulator.app import create_app
from engine.timelinesai.simulator.config import (
    SimAccount,
    SimulatorConfig,
    config_from_mapping,
    load_config,
)
from engine.timelinesai.simulator.requestlog import LoggedRequest
from engine.timelinesai.simulator.server import SimulatorHandle, running_simulator, serve

__all__ = [
    "LoggedRequest",
    "SimAccount",
    "SimulatorConfig",
    "SimulatorHandle",
    "config_from_mapping",
    "create_app",
    "load_config",
    "running_simulator",
    "serve",
]
