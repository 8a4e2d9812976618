"""A typed async client for the KIE.ai API, its errors, and an offline fake server."""

from kie_bot.kie.client import Api, KieClient, TaskState, TaskStatus
from kie_bot.kie.errors import (
    KieAuthError,
    KieError,
    KieGenerationFailed,
    KieInsufficientCredits,
    KieMaintenance,
    KieRateLimited,
    KieServerError,
    KieTransportError,
    KieValidationError,
)

__all__ = [
    "Api",
    "KieAuthError",
    "KieClient",
    "KieError",
    "KieGenerationFailed",
    "KieInsufficientCredits",
    "KieMaintenance",
    "KieRateLimited",
    "KieServerError",
    "KieTransportError",
    "KieValidationError",
    "TaskState",
    "TaskStatus",
]
