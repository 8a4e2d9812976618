"""One bot instance, run as a real subprocess by the multi-process tests and the benchmark.

``python _instance.py`` runs :func:`safe_polling.run_polling` against a fake Bot API and
records, one JSON object per line in ``MP_EVENTS``, with wall-clock times (one clock for all
processes on this machine):

* ``{"kind": "log", "t": ..., "msg": ...}``: every ``safe_polling`` log line;
* ``{"kind": "http", "t0": ..., "t1": ..., "method": ..., "code": ..., "timeout": ...}``:
  every Bot API request that really went out (getUpdates only past the lease fence);
* ``{"kind": "handled", "t": ..., "update_id": ...}``: every update a handler finished.

Environment: ``MP_TOKEN``, ``MP_BASE_URL``, ``MP_EVENTS``; ``MP_LEASE`` = ``env``
(``lease_from_env`` with the ``SAFE_POLLING_*`` variables, the default) or ``k8s`` (the
TTL-only baseline below on ``SAFE_POLLING_REDIS_URL``); ``MP_SHUTDOWN_TIMEOUT`` (default 5);
``MP_HANDLER_DELAY`` (seconds each update takes, default 0); ``MP_REDIS_RENEW_INTERVAL``
(a Redis lease renewed only this often, so that its fence alone notices a lost key);
``MP_DROP_UPDATES``: ``0`` (default here: an update that arrives during a handover must
reach the next leader, not be dropped by its ``deleteWebhook``), ``1``, or ``default`` for
``run_polling``'s own default.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest, RequestData

from safe_polling import run_polling
from safe_polling.lease import HolderInfo, LeaseLost, PollingLease, RedisLease, lease_from_env

_lock = threading.Lock()
_events = open(os.environ["MP_EVENTS"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115


def record(kind: str, **fields: Any) -> None:
    """Append one event line (thread-safe: PTB may log from other threads)."""
    line = json.dumps({"kind": kind, **fields}, ensure_ascii=False)
    with _lock:
        _events.write(line + "\n")


class _EventLog(logging.Handler):
    def emit(self, record_: logging.LogRecord) -> None:
        record("log", t=record_.created, msg=record_.getMessage())


class RecordingRequest(HTTPXRequest):
    """An ``HTTPXRequest`` that records method, start, end and status of each request."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]  # the method; the token stays out of the record
        poll = request_data.json_parameters.get("timeout") if request_data else None
        t0, code = time.time(), -1
        try:
            code, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        finally:
            record("http", t0=t0, t1=time.time(), method=name, code=code, timeout=poll)
        return code, payload


class KubeStyleTTLLease(PollingLease):
    """The baseline: a TTL-only Redis lease at Kubernetes client-go defaults.

    15 s lease, renewed every 2 s; a standby retries ``SET NX`` every 2 s and is never
    notified of a release (it finds the key gone at its next retry); a crashed holder's key
    expires after 15 s. Release deletes the key (client-go's ``ReleaseOnCancel``).
    """

    LEASE = 15.0
    RETRY = 2.0

    def __init__(self, url: str, name: str) -> None:
        super().__init__()
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, decode_responses=True)
        self._key = f"k8s-baseline:{name}"
        self._value = uuid.uuid4().hex
        self._renewer: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return f"k8s-style TTL lease ({self.LEASE:g} s lease, {self.RETRY:g} s retry)"

    async def try_acquire(self) -> bool:
        if self._held:
            return True
        if not await self._redis.set(self._key, self._value, nx=True, px=int(self.LEASE * 1000)):
            return False
        self._mark_held()
        self._renewer = asyncio.create_task(self._renew())
        return True

    async def acquire(self) -> None:
        while not await self.try_acquire():
            await asyncio.sleep(self.RETRY)

    async def _renew(self) -> None:
        while self._held:
            await asyncio.sleep(self.RETRY)
            if await self._redis.get(self._key) != self._value:
                self._mark_lost("key gone")
                return
            await self._redis.pexpire(self._key, int(self.LEASE * 1000))

    async def ensure_held(self) -> None:
        self._require_held()
        if await self._redis.get(self._key) != self._value:
            self._mark_lost("key gone")
            raise LeaseLost("k8s-style lease lost")

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        if self._held:
            self._mark_released()
            if await self._redis.get(self._key) == self._value:
                await self._redis.delete(self._key)

    async def holder(self) -> HolderInfo | None:
        return None

    async def aclose(self) -> None:
        await self.release()
        await self._redis.aclose()


async def _handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    delay = float(os.environ.get("MP_HANDLER_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)
    record("handled", t=time.time(), update_id=update.update_id, pid=os.getpid())
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, f"handled {update.update_id}")


def main() -> None:
    """Build the application and run it under :func:`run_polling` until a signal."""
    logging.getLogger("safe_polling").addHandler(_EventLog())
    record("start", t=time.time(), pid=os.getpid())
    application = (
        ApplicationBuilder()
        .token(os.environ["MP_TOKEN"])
        .base_url(os.environ["MP_BASE_URL"])
        .request(RecordingRequest())
        .get_updates_request(RecordingRequest())
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, _handle))
    lease: PollingLease
    if os.environ.get("MP_LEASE", "env") == "k8s":
        name = os.environ.get("SAFE_POLLING_LEASE_NAME", "default")
        lease = KubeStyleTTLLease(os.environ["SAFE_POLLING_REDIS_URL"], name)
    elif "MP_REDIS_RENEW_INTERVAL" in os.environ:
        # A Redis lease renewed rarely: its own loss detection stays out of the way, so
        # only the fence before each getUpdates can notice a deleted key in time.
        renew = float(os.environ["MP_REDIS_RENEW_INTERVAL"])
        lease = RedisLease(
            os.environ["SAFE_POLLING_REDIS_URL"],
            bot_id=os.environ["MP_TOKEN"],
            name=os.environ.get("SAFE_POLLING_LEASE_NAME", "default"),
            ttl=renew * 3,
            renew_interval=renew,
        )
    else:
        found = lease_from_env(token=os.environ["MP_TOKEN"])
        assert found is not None, "set SAFE_POLLING_LEASE to a real backend"
        lease = found
    run_polling(
        application,
        lease=lease,
        drop_updates={"0": False, "1": True}.get(os.environ.get("MP_DROP_UPDATES", "0")),
        preflight=False,
        timeout=1,
        shutdown_timeout=float(os.environ.get("MP_SHUTDOWN_TIMEOUT", "5")),
        watchdog=None,
        health_port=None,
    )
    record("exit", t=time.time())


if __name__ == "__main__":
    main()
