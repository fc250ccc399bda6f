"""The TimelinesAI public API: client, typed results, errors, rate limiting, simulator.

Build one :class:`TimelinesAIClient` per process and share it between threads. The
simulator (:mod:`engine.timelinesai.simulator`) speaks the same API on loopback.
"""

from typing import TYPE_CHECKING, Any

from engine.timelinesai.client import TimelinesAIClient
from engine.timelinesai.errors import (
    AccountBanned,
    BadRequest,
    BadToken,
    CallBudgetExhausted,
    ChatNotFound,
    Forbidden,
    InvalidRecipient,
    MessageNotFound,
    NetworkError,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RateLimited,
    RateLimitWaitExceeded,
    SendOutcomeUnknown,
    ServerError,
    TimelinesAIError,
    TransientError,
    UnexpectedResponse,
)
from engine.timelinesai.models import (
    Chat,
    Message,
    MessageStatus,
    SentMessage,
    StatusChange,
    UploadedFile,
    Webhook,
    WhatsAppAccount,
    WorkspaceQuotas,
)
from engine.timelinesai.ratelimit import (
    BUDGET_SHARE,
    CallBudget,
    MemoryCallBudget,
    MemoryRateLimiter,
    MonthlyBudget,
    NoLimit,
    RateLimiter,
    RedisRateLimiter,
)
from engine.timelinesai.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from engine.timelinesai.simulator import (
        SimAccount,
        SimulatorConfig,
        SimulatorHandle,
        running_simulator,
    )

_SIMULATOR_NAMES = frozenset(
    {"SimAccount", "SimulatorConfig", "SimulatorHandle", "running_simulator"}
)


def __getattr__(name: str) -> Any:
    # The simulator pulls in FastAPI and uvicorn (about 0.6 s): a worker that only
    # sends does not pay for it until a simulator name is asked for.
    if name in _SIMULATOR_NAMES:
        from engine.timelinesai import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUDGET_SHARE",
    "AccountBanned",
    "BadRequest",
    "BadToken",
    "CallBudget",
    "CallBudgetExhausted",
    "Chat",
    "ChatNotFound",
    "Forbidden",
    "InvalidRecipient",
    "MemoryCallBudget",
    "MemoryRateLimiter",
    "Message",
    "MessageNotFound",
    "MessageStatus",
    "MonthlyBudget",
    "NetworkError",
    "NoLimit",
    "NotFound",
    "PayloadTooLarge",
    "PermanentError",
    "RateLimitWaitExceeded",
    "RateLimited",
    "RateLimiter",
    "RedisRateLimiter",
    "SendOutcomeUnknown",
    "SentMessage",
    "ServerError",
    "SimAccount",
    "SimulatorConfig",
    "SimulatorHandle",
    "StatusChange",
    "TimelinesAIClient",
    "TimelinesAIError",
    "TransientError",
    "UnexpectedResponse",
    "UploadedFile",
    "Webhook",
    "WhatsAppAccount",
    "WorkspaceQuotas",
    "format_timestamp",
    "parse_timestamp",
    "running_simulator",
]
