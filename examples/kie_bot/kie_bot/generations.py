"""The durable generation state machine: charge, submit, poll, deliver or refund, once.

Every step is recorded in ``kie_generations`` before or right after the side effect it
guards, and every side effect is made once:

- the charge uses the store's idempotency key ``charge:<id>`` (re-running it after a crash
  charges nothing twice);
- a KIE task is created at most once: a generation found ``charged`` without a task id
  after a restart may or may not have a task, so it is refunded, never re-created;
- delivery and refund are claimed by conditional updates (``submitted -> delivering``,
  ``... -> refunding``), so only one writer ever delivers or refunds; the credit back uses
  the idempotency key ``refund:<id>``.

Each generation is run by one worker at a time: its row carries a claim (the worker and
an expiry) that the worker renews while it runs it. At start-up
:meth:`GenerationService.resume` picks up every unfinished generation nobody holds, and
keeps looking every ``max_interval`` seconds, so a restart, a deploy handover or a stopped
worker of a scaled-out bot (``SAFE_POLLING_QUEUE``) never loses a paid generation, and two
workers never run the same one. Running work is tracked and cancelled on shutdown, except
the short delivery/refund steps, which are waited for; then the claims are released, so
another worker takes over at once (a killed worker's claims run out after the claim TTL).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from kie_bot.catalog import Catalog, Model, Params
from kie_bot.kie import (
    KieError,
    KieGenerationFailed,
    KieMaintenance,
    KieRateLimited,
    KieTransportError,
    KieValidationError,
    TaskState,
)
from kie_bot.kie.client import KieClient, text_of
from kie_bot.request_body import build_request
from kie_bot.storage import Generation, State, Storage, now_ms
from kie_bot.texts import t
from safe_polling.db import InsufficientFunds

__all__ = ["GenerationService", "Messenger", "PollSettings", "StartResult", "usable_url"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# States a refund may start from: charged, never delivered. DELIVERING is claimed by the
# one writer delivering, and only that writer refunds from it (nothing usable came back).
_REFUNDABLE = (State.CHARGED, State.SUBMITTED)
# Longer than any URL a browser or Telegram link handles; such a "link" is worth nothing.
_MAX_URL = 2048
# A transcript is sent in parts under Telegram's 4096-character limit, which counts UTF-16
# units: 4000 code points leave room for 96 characters outside the BMP (emoji).
_MESSAGE_LIMIT = 4000
# A claim lasts this many renewal periods (``max_interval``), and at least _CLAIM_TTL_MIN
# seconds: a worker slow to renew (a database hiccup) keeps its generations, and one that
# was killed holds them this long before another worker picks them up.
_CLAIM_ROUNDS = 4
_CLAIM_TTL_MIN = 30.0


class Messenger(Protocol):
    """How the state machine talks to the user (Telegram in the bot, a recorder in tests).

    .. versionadded:: 0.1.0
    """

    async def send_text(self, chat_id: int, text: str) -> int | None:
        """Send a message; return its id (:obj:`None` if it could not be sent)."""

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> bool:
        """Replace a message's text; :obj:`False` if it could not be edited."""

    async def send_media(self, chat_id: int, media: str, url: str, caption: str) -> bool:
        """Send *url* as ``photo``/``video``/``audio``; :obj:`False` if it was too large."""


class StartResult(StrEnum):
    """What :meth:`GenerationService.start` did.

    .. versionadded:: 0.1.0
    """

    STARTED = "started"
    DUPLICATE = "duplicate"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True, slots=True)
class PollSettings:
    """Timing of the status polling.

    Attributes:
        interval (:obj:`float`): First wait between status checks (KIE suggests 2-3 s).
        max_interval (:obj:`float`): The cap it backs off to.
        timeout (:obj:`float`): Seconds after submission before giving up and refunding.
        edit_every (:obj:`float`): Minimum seconds between two progress edits with the
            same stage (Telegram rate-limits edits).
        critical_grace (:obj:`float`): Longest wait for a create, delivery or refund in
            progress when the service is cancelled.
        callback_url (:obj:`str` | :obj:`None`): ``callBackUrl`` for KIE (``KIE_CALLBACK_URL``).

    .. versionadded:: 0.1.0
    """

    interval: float = 3.0
    max_interval: float = 15.0
    timeout: float = 900.0
    edit_every: float = 10.0
    critical_grace: float = 10.0
    callback_url: str | None = None


class GenerationService:
    """Runs generations from confirmation to delivery or refund.

    Args:
        storage (:class:`kie_bot.storage.Storage`): The bot's tables.
        kie (:class:`kie_bot.kie.KieClient`): The KIE client.
        catalog (:class:`kie_bot.catalog.Catalog`): The models.
        messenger (:class:`Messenger`): Where user messages go.
        poll (:class:`PollSettings`, optional): Polling timing.

    Attributes:
        worker (:obj:`str`): This service's name in the generations' claims.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        storage: Storage,
        kie: KieClient,
        catalog: Catalog,
        messenger: Messenger,
        poll: PollSettings | None = None,
    ) -> None:
        self.storage = storage
        self.kie = kie
        self.catalog = catalog
        self.messenger = messenger
        self.poll = poll or PollSettings()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._critical: set[str] = set()
        self._closing = False
        # This service's name in the claims: a fresh one per start, never reused.
        self.worker = uuid.uuid4().hex
        self._keeper: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        """:obj:`int`: Generations being worked on by this process."""
        return len(self._tasks)

    async def start(
        self, gen_id: str, *, user_id: int, chat_id: int, lang: str, model: Model, params: Params
    ) -> tuple[StartResult, int]:
        """Record, charge and launch a confirmed generation.

        Args:
            gen_id (:obj:`str`): Chosen when the price was shown, so a double press of
                *Confirm* maps to the same generation.
            user_id (:obj:`int`): Who pays.
            chat_id (:obj:`int`): Where messages go.
            lang (:obj:`str`): ``"ru"`` or ``"en"``.
            model (:class:`kie_bot.catalog.Model`): What to run.
            params (:class:`kie_bot.catalog.Params`): The user's answers.

        Returns:
            tuple[:class:`StartResult`, :obj:`int`]: The outcome and the balance after it
            (for :attr:`StartResult.INSUFFICIENT`, the balance that was too low).

        .. versionadded:: 0.1.0
        """
        inserted = await self.storage.insert_generation(
            gen_id,
            user_id=user_id,
            chat_id=chat_id,
            lang=lang,
            model=model.id,
            params=params,
            price=model.price_for(params),
            claim=(self.worker, self._claim_until()),
        )
        if not inserted:
            return StartResult.DUPLICATE, await self.storage.store.get_user_balance_async(user_id)
        gen = await self.storage.get(gen_id)
        assert gen is not None
        try:
            balance = await self._charge(gen)
        except InsufficientFunds as exc:
            await self.storage.transition(gen_id, (State.CREATED,), State.CANCELLED)
            return StartResult.INSUFFICIENT, exc.balance
        log.info("generation %s started: %s for %d credits", gen_id, model.id, gen.price)
        self._spawn(gen_id)
        return StartResult.STARTED, balance

    async def _charge(self, gen: Generation) -> int:
        # Idempotent: re-running it for a generation already charged charges nothing.
        balance = await self.storage.store.subtract_user_balance_async(
            gen.user_id,
            gen.price,
            reason=f"generation {gen.model}",
            idempotency_key=f"charge:{gen.id}",
        )
        await self.storage.transition(gen.id, (State.CREATED,), State.CHARGED)
        return balance

    async def resume(self) -> int:
        """Pick up every unfinished generation no worker holds, and keep doing so.

        Call it once the service may run generations (``post_init``). Until
        :meth:`shutdown`, the service then renews the claims of what it runs and picks up
        what other workers released or let expire, every ``max_interval`` seconds.

        Returns:
            :obj:`int`: How many were picked up now.

        .. versionadded:: 0.1.0
        """
        count = await self._pick_up()
        log.info("resumed %d unfinished generation(s)", count)
        if self._keeper is None and not self._closing:
            self._keeper = asyncio.create_task(self._keep_claims(), name="generation-claims")
        return count

    def _claim_until(self) -> int:
        """When a claim taken or renewed now runs out (ms)."""
        ttl = max(_CLAIM_TTL_MIN, _CLAIM_ROUNDS * self.poll.max_interval)
        return now_ms() + int(ttl * 1000)

    async def _pick_up(self) -> int:
        """Claim and start the generations nobody holds; return how many."""
        count = 0
        now = now_ms()
        for gen in await self.storage.claimable(now):
            if self._closing:
                break
            if gen.id in self._tasks or not await self.storage.claim(
                gen.id, self.worker, self._claim_until(), now
            ):
                continue  # another worker was quicker
            if gen.state is State.CREATED:
                try:
                    await self._charge(gen)
                except InsufficientFunds:
                    await self.storage.transition(gen.id, (State.CREATED,), State.CANCELLED)
                    continue
            # A CHARGED generation's create may or may not have reached KIE before its
            # worker stopped; re-creating could run (and bill) it twice, so the user gets
            # the credits back instead.
            self._spawn(gen.id, interrupted=gen.state is State.CHARGED)
            count += 1
        return count

    async def _keep_claims(self) -> None:
        """Renew what runs here, drop what another worker took, pick up what nobody holds."""
        while not self._closing:
            await asyncio.sleep(self.poll.max_interval)
            try:
                running = dict(self._tasks)  # those started meanwhile were claimed just now
                held = await self.storage.renew(list(running), self.worker, self._claim_until())
                for gen_id, task in running.items():
                    if gen_id not in held and gen_id not in self._critical:
                        log.warning("generation %s was taken over by another worker", gen_id)
                        task.cancel()
                count = await self._pick_up()
            except Exception as exc:  # the database is down: the claims last a while
                log.warning("could not renew the generation claims yet: %s", exc)
                continue
            if count:
                log.info("picked up %d unfinished generation(s) no worker was running", count)

    def _spawn(self, gen_id: str, *, interrupted: bool = False) -> None:
        if self._closing or gen_id in self._tasks:
            return
        task = asyncio.create_task(self._run(gen_id, interrupted), name=f"generation-{gen_id}")
        self._tasks[gen_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(gen_id, None))

    async def wait_idle(self, timeout: float) -> None:
        """Wait until no generation is running (for tests and orderly shutdown).

        .. versionadded:: 0.1.0
        """
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop: cancel polling waits, let in-flight delivery/refund steps finish.

        Durable state makes this safe: whatever is cancelled is released and picked up by
        another worker, or by the next instance's :meth:`resume`.

        .. versionadded:: 0.1.0
        """
        self._closing = True
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        for gen_id, task in list(self._tasks.items()):
            if gen_id not in self._critical:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await self.wait_idle(grace)
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        try:
            await self.storage.release(self.worker)
        except Exception as exc:  # they run out after the claim TTL instead
            log.warning("could not release the generation claims: %s", exc)

    async def _critical_step(self, gen_id: str, step: Awaitable[_T]) -> _T:
        # Shielded so a shutdown cancel cannot stop a create, a delivery or a refund
        # half-way; a cancel that lands anyway waits (bounded) for the step to finish.
        self._critical.add(gen_id)
        inner = asyncio.ensure_future(step)
        try:
            return await asyncio.shield(inner)
        except asyncio.CancelledError:
            await asyncio.wait([inner], timeout=self.poll.critical_grace)
            raise
        finally:
            self._critical.discard(gen_id)

    async def _run(self, gen_id: str, interrupted: bool) -> None:
        try:
            gen = await self.storage.get(gen_id)
            if gen is None:
                return
            model = self.catalog.model(gen.model)
            if gen.state is State.REFUNDING or interrupted:
                await self._critical_step(gen_id, self._refund(gen, "reason_interrupted"))
            elif model is None:
                # The model left the catalog since: nothing to run or title it with.
                everything = (*_REFUNDABLE, State.DELIVERING)
                step = self._refund(gen, "reason_interrupted", claimable=everything)
                await self._critical_step(gen_id, step)
            elif gen.state is State.DELIVERING:
                await self._critical_step(gen_id, self._deliver(gen, model))
            elif gen.state is State.CHARGED:
                await self._submit_and_poll(gen, model)
            elif gen.state is State.SUBMITTED:
                await self._poll(gen, model)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The row stays unfinished; it is picked up again once its claim runs out.
            log.exception("generation %s stopped by an unexpected error", gen_id)

    async def _submit_and_poll(self, gen: Generation, model: Model) -> None:
        message_id = await self.messenger.send_text(
            gen.chat_id, t(gen.lang, "progress_queued", title=model.title)
        )
        if message_id is not None:
            await self.storage.set_progress_message(gen.id, message_id)
            gen = _with(gen, progress_message_id=message_id)
        submitted = await self._critical_step(gen.id, self._submit(gen, model))
        if submitted is not None and not self._closing:
            await self._poll(submitted, model)

    async def _submit(self, gen: Generation, model: Model) -> Generation | None:
        """Create the KIE task once and record its id; refund when KIE refuses."""
        try:
            task_id = await self.kie.create_task(
                model.api, build_request(model, gen.params, self.poll.callback_url)
            )
        except KieError as exc:
            log.warning("generation %s: create refused: %s", gen.id, exc)
            reason, error = _refund_reason(exc)
            await self._refund(gen, reason, error)
            return None
        submitted = now_ms()
        if not await self.storage.transition(
            gen.id, (State.CHARGED,), State.SUBMITTED, task_id=task_id, submitted_at=submitted
        ):
            # Another instance already settled it (refunded as interrupted): stop here.
            log.warning("generation %s was settled elsewhere; task %s abandoned", gen.id, task_id)
            return None
        return _with(gen, task_id=task_id, submitted_at=submitted)

    async def _poll(self, gen: Generation, model: Model) -> None:
        assert gen.task_id is not None
        deadline = (gen.submitted_at or now_ms()) + int(self.poll.timeout * 1000)
        interval = self.poll.interval
        shown, last_edit = "", 0.0
        loop = asyncio.get_running_loop()
        while now_ms() < deadline:
            if self._closing:
                return  # shutting down: the next leader resumes from the database
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, self.poll.max_interval)
            try:
                status = await self.kie.get_status(model.api, gen.task_id)
            except KieError as exc:
                # Status reads are retried inside the client; keep trying until the deadline.
                log.warning("generation %s: status check failed: %s", gen.id, exc)
                continue
            if status.state is TaskState.SUCCESS:
                gen = _with(gen, result_urls=status.result_urls)
                await self._critical_step(gen.id, self._claim_and_deliver(gen, model))
                return
            if status.state is TaskState.FAILED:
                error = status.error or "-"
                await self._critical_step(gen.id, self._refund(gen, "reason_failed", error))
                return
            key = (
                "progress_queued"
                if status.stage in ("waiting", "queuing")
                else ("progress_generating")
            )
            if key != shown or loop.time() - last_edit >= self.poll.edit_every:
                seconds = max(0, (now_ms() - (gen.submitted_at or now_ms())) // 1000)
                text = t(gen.lang, key, title=model.title, seconds=seconds)
                await self._progress(gen, text)
                shown, last_edit = key, loop.time()
        await self._critical_step(gen.id, self._refund(gen, "reason_timeout"))

    async def _progress(self, gen: Generation, text: str) -> None:
        if gen.progress_message_id is None or not await self.messenger.edit_text(
            gen.chat_id, gen.progress_message_id, text
        ):
            message_id = await self.messenger.send_text(gen.chat_id, text)
            if message_id is not None and gen.progress_message_id is None:
                await self.storage.set_progress_message(gen.id, message_id)

    async def _claim_and_deliver(self, gen: Generation, model: Model) -> None:
        claimed = await self.storage.transition(
            gen.id,
            (State.SUBMITTED,),
            State.DELIVERING,
            result_urls=json.dumps(list(gen.result_urls)),
        )
        if claimed:
            await self._deliver(gen, model)

    async def _deliver(self, gen: Generation, model: Model) -> None:
        # Every way out of here is terminal (DONE or REFUNDED): a URL that breaks the
        # download or the upload becomes a link, and a generation with no URL worth a
        # link is refunded. Otherwise the same error would strike on every restart.
        title = model.title
        usable = [url for url in gen.result_urls if usable_url(url) or text_of(url)]
        if not usable:
            log.warning(
                "generation %s: KIE reported success with no usable result (%d URL(s))",
                gen.id,
                len(gen.result_urls),
            )
            await self._refund(gen, "reason_no_result", claimable=(State.DELIVERING,))
            return
        await self._progress(gen, t(gen.lang, "progress_sending", title=title))
        for url in usable:
            text = text_of(url)
            if text is not None:
                await self._send_long(gen, t(gen.lang, "result_text", title=title, text=text))
                continue
            caption = t(gen.lang, "result_caption", title=title)
            try:
                sent = await self.messenger.send_media(gen.chat_id, model.media, url, caption)
            except Exception:
                log.exception("generation %s: sending the media failed", gen.id)
                sent = False
            if not sent:
                await self.messenger.send_text(
                    gen.chat_id, t(gen.lang, "result_link", title=title, url=url)
                )
        await self.storage.transition(gen.id, (State.DELIVERING,), State.DONE)
        log.info("generation %s delivered (%d file(s))", gen.id, len(usable))
        await self._progress(gen, t(gen.lang, "progress_done", title=title))

    async def _send_long(self, gen: Generation, text: str) -> None:
        """Send a text result in as many messages as Telegram's limit needs."""
        for start in range(0, len(text), _MESSAGE_LIMIT):
            await self.messenger.send_text(gen.chat_id, text[start : start + _MESSAGE_LIMIT])

    async def _refund(
        self,
        gen: Generation,
        reason: str,
        error: str = "-",
        *,
        claimable: tuple[State, ...] = _REFUNDABLE,
    ) -> None:
        if not await self.storage.transition(
            gen.id,
            (*claimable, State.REFUNDING),
            State.REFUNDING,
            error=f"{reason}: {error}"[:500],
        ):
            return  # someone else delivered or refunded it
        balance = await self.storage.store.add_user_balance_async(
            gen.user_id,
            gen.price,
            reason=f"refund {gen.model}",
            idempotency_key=f"refund:{gen.id}",
        )
        if not await self.storage.transition(gen.id, (State.REFUNDING,), State.REFUNDED):
            return
        log.info("generation %s refunded %d credits (%s: %s)", gen.id, gen.price, reason, error)
        model = self.catalog.model(gen.model)
        title = model.title if model else gen.model
        text = t(
            gen.lang,
            "refunded",
            title=title,
            price=gen.price,
            balance=balance,
            reason=t(gen.lang, reason, error=error),
        )
        await self._progress(gen, text)


def usable_url(url: object) -> bool:
    """Whether *url* is an http(s) URL worth sending to the user as a link.

    .. versionadded:: 0.1.0
    """
    if not isinstance(url, str) or len(url) > _MAX_URL or not url.isprintable() or " " in url:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _refund_reason(exc: KieError) -> tuple[str, str]:
    """Map a refused create to the text key shown to the user (and the detail)."""
    if isinstance(exc, KieRateLimited):
        return "reason_busy", exc.message
    if isinstance(exc, KieValidationError):
        return "reason_rejected", exc.message
    if isinstance(exc, KieGenerationFailed):
        return "reason_failed", exc.message
    if isinstance(exc, KieMaintenance | KieTransportError):
        return "reason_unavailable", exc.message
    # 402 (the operator's KIE account is empty), 401, 5xx: not the user's fault.
    return "reason_unavailable", exc.message


def _with(gen: Generation, **changes: object) -> Generation:
    return replace(gen, **changes)  # type: ignore[arg-type]
