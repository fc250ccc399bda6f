"""The TimelinesAI public API: client, typed results, errors, rate limiting, simulator.

Build one :class:`TimelinesAIClient` per process and share it between threads. The
simulator (:mod:`engine.timelinesai.simulator`) speaks the same API on loopback.
"""

from typing import TYPE_CHECKING

from engine.lazy import export_lazily

if TYPE_CHECKING:
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
    from engine.timelinesai.message_quota import MessageQuota, read_message_quota
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
    from engine.timelinesai.simulator import (
        SimAccount,
        SimulatorConfig,
        SimulatorHandle,
        running_simulator,
    )
    from engine.timelinesai.timestamps import format_timestamp, parse_timestamp

# Nothing is imported before it is asked for: the client brings httpx, the simulator
# FastAPI and uvicorn (about 0.6 s), and a reader of the call budget needs neither.
export_lazily(
    __name__,
    {
        "engine.timelinesai.client": ("TimelinesAIClient",),
        "engine.timelinesai.errors": (
            "AccountBanned",
            "BadRequest",
            "BadToken",
            "CallBudgetExhausted",
            "ChatNotFound",
            "Forbidden",
            "InvalidRecipient",
            "MessageNotFound",
            "NetworkError",
            "NotFound",
            "PayloadTooLarge",
            "PermanentError",
            "RateLimited",
            "RateLimitWaitExceeded",
            "SendOutcomeUnknown",
            "ServerError",
            "TimelinesAIError",
            "TransientError",
            "UnexpectedResponse",
        ),
        "engine.timelinesai.message_quota": ("MessageQuota", "read_message_quota"),
        "engine.timelinesai.models": (
            "Chat",
            "Message",
            "MessageStatus",
            "SentMessage",
            "StatusChange",
            "UploadedFile",
            "Webhook",
            "WhatsAppAccount",
            "WorkspaceQuotas",
        ),
        "engine.timelinesai.ratelimit": (
            "BUDGET_SHARE",
            "CallBudget",
            "MemoryCallBudget",
            "MemoryRateLimiter",
            "MonthlyBudget",
            "NoLimit",
            "RateLimiter",
            "RedisRateLimiter",
        ),
        "engine.timelinesai.timestamps": ("format_timestamp", "parse_timestamp"),
        "engine.timelinesai.simulator": (
            "SimAccount",
            "SimulatorConfig",
            "SimulatorHandle",
            "running_simulator",
        ),
    },
)


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
    "MessageQuota",
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
    "read_message_quota",
    "running_simulator",
]
