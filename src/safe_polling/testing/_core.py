"""The fake's shared core: token rules, per-token states, the call and sent records."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from safe_polling.testing._clock import Clock
from safe_polling.testing._flood import FloodLimits, Limiter
from safe_polling.testing._latency import Latency
from safe_polling.testing._params import ApiError
from safe_polling.testing._records import Call, FakeStats, Sent
from safe_polling.testing._state import BotState

__all__ = [
    "DEFAULT_USERNAME",
    "Core",
    "check_token_shape",
    "make_token",
]

DEFAULT_USERNAME = "fake_test_bot"


def make_token() -> str:
    """A fresh well-formed bot token: ``<bot id>:<35 URL-safe chars>``.

    .. versionadded:: 0.1.0
    """
    bot_id = secrets.randbelow(9_000_000_000) + 1_000_000_000
    return f"{bot_id}:{secrets.token_urlsafe(27)[:35]}"


def check_token_shape(token: str) -> int:
    """Return the bot id of ``token`` or raise the real server's error for a malformed one.

    Raises:
        ApiError: 401 ``Unauthorized: invalid token specified`` (starts with '0', longer than 80,
            contains '/', no ':'); 421 when the part before ':' is not a number.
    """
    if not token or token[0] == "0" or len(token) > 80 or "/" in token or ":" not in token:
        raise ApiError(401, "Unauthorized: invalid token specified")
    head = token.split(":", 1)[0]
    if not head.isdigit():
        raise ApiError(421, "Misdirected Request: unallowed token specified")
    return int(head)


class Core:
    """Token rules, bot states and records; no HTTP here."""

    def __init__(
        self, token: str | None, username: str, conflict_delay: float, strict_chats: bool = True
    ) -> None:
        if token is not None:
            try:
                check_token_shape(token)
            except ApiError as error:
                # Never echo the token itself.
                raise ValueError(f"malformed bot token: {error.description}") from None
        self.only_token = token
        self.token = token or make_token()
        self.username = username
        self.conflict_delay = conflict_delay
        self.latency = Latency()
        self.states: dict[str, BotState] = {}
        self.clock = Clock()
        self.strict_chats = strict_chats
        self.flood_limits: FloodLimits | None = None
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.current_get_updates = 0
        self.max_concurrent_get_updates = 0
        self._changed: asyncio.Event | None = None
        # (token, lower-case method) -> errors still to answer, oldest first
        self.planned_errors: dict[tuple[str, str], list[ApiError]] = {}

    def authorize(self, token: str) -> BotState:
        """The state of an acceptable token.

        Raises:
            ApiError: 401/421 for malformed tokens, 401 ``Unauthorized`` for a token other than
                the configured one.
        """
        check_token_shape(token)
        if self.only_token is not None and token != self.only_token:
            raise ApiError(401, "Unauthorized")
        return self.state(token)

    def state(self, token: str) -> BotState:
        """The state of ``token``, created on first use."""
        found = self.states.get(token)
        if found is None:
            found = BotState(
                token,
                check_token_shape(token),
                self.username,
                strict_chats=self.strict_chats,
                clock=self.clock,
            )
            if self.flood_limits is not None:
                found.flood = Limiter(self.flood_limits)
            self.states[token] = found
        return found

    def set_flood_limits(self, limits: FloodLimits | None) -> None:
        """Turn flood control on (fresh buckets for every bot) or off."""
        self.flood_limits = limits
        for state in self.states.values():
            state.flood = Limiter(limits) if limits is not None else None

    def plan_error(
        self,
        token: str,
        method: str,
        error_code: int,
        description: str | None,
        retry_after: int | None,
        times: int,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (real wording default)."""
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                502: "Bad Gateway",
                500: "Internal Server Error",
            }.get(error_code, f"Error {error_code}")
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        error = ApiError(error_code, description, parameters)
        self.planned_errors.setdefault((token, method.lower()), []).extend([error] * times)

    def take_planned_error(self, token: str, method: str) -> ApiError | None:
        """The planned error for this call, if any (consumed)."""
        planned = self.planned_errors.get((token, method.lower()))
        return planned.pop(0) if planned else None

    # ---- records -------------------------------------------------------------------------

    def begin_call(self, method: str, params: dict[str, Any], token: str, arrived: float) -> Call:
        """Record a request as it starts (status 0), so ``calls`` keeps arrival order."""
        call = Call(method, params, token, arrived, 0)
        self.calls.append(call)
        return call

    def end_call(self, started: Call | None, final: Call) -> None:
        """Replace the started record by ``final`` (or append it if none was started)."""
        if started is None:
            self.calls.append(final)
        else:
            # Search from the end: the started record is usually among the newest ones. It is
            # gone only after a reset, and then the stale request is not recorded again.
            for index in range(len(self.calls) - 1, -1, -1):
                if self.calls[index] is started:
                    self.calls[index] = final
                    break
        self._notify()

    def record_sent(
        self,
        state: BotState,
        method: str,
        chat_id: int | None,
        params: dict[str, Any],
        message: dict[str, Any] | None,
        result: Any,
    ) -> None:
        """Append something the bot did in a chat to ``sent``."""
        seq = len(self.sent)
        self.sent.append(
            Sent(seq, method, chat_id, params, message, result, state.token, time.time())
        )
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_sent(
        self, predicate: Callable[[Sent], bool], after: int, timeout: float
    ) -> Sent | None:
        """The first sent record from ``after`` on matching ``predicate``, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = after
        while True:
            for item in self.sent[index:]:
                if predicate(item):
                    return item
            index = max(index, len(self.sent))
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None

    # ---- counters ------------------------------------------------------------------------

    def poll_started(self, state: BotState) -> None:
        """Count a getUpdates that starts polling (peaks reveal overlapping pollers)."""
        state.current_get_updates += 1
        state.max_concurrent_get_updates = max(
            state.max_concurrent_get_updates, state.current_get_updates
        )
        self.current_get_updates += 1
        self.max_concurrent_get_updates = max(
            self.max_concurrent_get_updates, self.current_get_updates
        )

    def poll_finished(self, state: BotState) -> None:
        """Count a getUpdates whose outcome is decided."""
        state.current_get_updates -= 1
        self.current_get_updates -= 1

    def stats(self) -> FakeStats:
        """A snapshot of all counters."""
        per_token = {token: s.stats() for token, s in self.states.items()}
        conflicts: Counter[str] = Counter()
        for s in self.states.values():
            conflicts.update(s.conflicts)
        return FakeStats(
            get_updates_calls=sum(s.get_updates_calls for s in per_token.values()),
            current_get_updates=self.current_get_updates,
            max_concurrent_get_updates=self.max_concurrent_get_updates,
            conflicts=dict(conflicts),
            tokens=per_token,
        )

    def reset_stats(self) -> None:
        """Zero the counters; the calls and sent records are kept."""
        for s in self.states.values():
            s.reset_stats()
        self.max_concurrent_get_updates = self.current_get_updates
