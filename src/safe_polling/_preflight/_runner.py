"""``run_preflight``: run the checks concurrently, each under its own timeout."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread

from safe_polling._preflight._database import DATABASE_URL_ENV, check_database, url_secrets
from safe_polling._preflight._report import (
    CheckResult,
    CheckStatus,
    PreflightCheck,
    PreflightReport,
    scrub_result,
)
from safe_polling._preflight._telegram import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    TOKEN_ALIAS_ENV,
    TOKEN_ENV,
    BaseUrl,
    BotApi,
    BotCaller,
    check_get_me,
    check_token_present,
    check_token_shape,
    check_webhook,
    resolve_token,
)

# Values of these variables are scrubbed from every line, whichever check produced it.
_SECRET_ENV = (TOKEN_ENV, TOKEN_ALIAS_ENV, "KIE_API_KEY")
# URLs whose passwords are scrubbed too (the lease may use them).
_SECRET_URL_ENV = ("SAFE_POLLING_DATABASE_URL", "SAFE_POLLING_REDIS_URL", "REDIS_URL")
# Slack on top of a check's own timeout before the runner gives up on it.
_GRACE = 2.0


class LeaseLike(Protocol):
    """The part of :class:`safe_polling.lease.PollingLease` the preflight uses."""

    def describe(self) -> str: ...

    async def holder(self) -> Any: ...


async def run_preflight(
    *,
    token: str | None = None,
    base_url: BaseUrl | None = None,
    database_url: str | None = None,
    require_database: bool = False,
    render_yaml: str | os.PathLike[str] | bool | None = None,
    lease: LeaseLike | None = None,
    extra_checks: Iterable[PreflightCheck] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    bot_api: BotCaller | None = None,
) -> PreflightReport:
    """Check that the bot can start: token, Telegram, webhook, database, lease, render.yaml.

    Independent checks run concurrently, each bounded by ``timeout``, so a dead network or a
    hanging server fails the preflight in seconds. A missing or malformed token skips the
    network checks (reported as skipped, not as extra failures). No secret (token, database
    password, ``KIE_API_KEY``) appears in the report.

    Args:
        token: The bot token; :obj:`None` reads ``TELEGRAM_BOT_TOKEN``, then ``BOT_TOKEN``.
        base_url: PTB-style Bot API base URL (``"https://api.telegram.org/bot"``,
            ``"http://127.0.0.1:8081/bot"``, a ``{token}`` template or a callable);
            :obj:`None` reads ``TELEGRAM_BASE_URL``, else Telegram's.
        database_url: :obj:`None` reads ``DATABASE_URL``; checked when set.
        require_database: Fail when no database URL is set.
        render_yaml: Path of a render.yaml to validate; :obj:`None` validates
            ``./render.yaml`` if it exists; :obj:`False` skips it.
        lease: A :class:`~safe_polling.lease.PollingLease`: its backend is asked who holds it.
        extra_checks: More :class:`PreflightCheck` to run beside the built-in ones.
        env: The environment to read; :obj:`None` is :data:`os.environ`.
        timeout: Seconds allowed for each check.
        bot_api: Where getMe and getWebhookInfo go (with a token present and well formed);
            :obj:`None` (default) opens a log-silent client of its own and closes it after.
            :func:`~safe_polling.run_polling` passes the application's bot here, so the
            preflight's getMe is the one ``initialize()`` needs.

    Returns:
        :class:`PreflightReport`: ``report.ok`` is :obj:`False` when any check failed.

    Example:
        .. code:: python

            report = await run_preflight(require_database=True)
            print(report)
            if not report.ok:
                raise SystemExit(1)

    .. versionadded:: 0.1.0
    """
    env = os.environ if env is None else env
    found = resolve_token(token, env)
    db_url = env.get(DATABASE_URL_ENV) if database_url is None else database_url
    secrets = [found.token or "", *(env.get(name, "") for name in _SECRET_ENV)]
    for url in (db_url, *(env.get(name) for name in _SECRET_URL_ENV)):
        secrets += url_secrets(url or "")

    results: list[CheckResult] = [check_token_present(found)]
    jobs: list[tuple[str, Callable[[], Awaitable[CheckResult]], float]] = []
    api: BotCaller | None = None
    if found.token is None:
        results += _skipped(("token format", "getMe", "webhook"), "no token")
    else:
        shape = check_token_shape(found.token)
        results.append(shape)
        if shape.status is CheckStatus.FAIL:
            results += _skipped(("getMe", "webhook"), "malformed token")
        else:
            base = base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
            api = bot_api or BotApi(found.token, base, timeout)
            jobs += [("getMe", _bind(check_get_me, api), timeout)]
            jobs += [("webhook", _bind(check_webhook, api), timeout)]
    jobs.append(
        (
            "database",
            lambda: check_database(db_url, required=require_database, timeout=timeout),
            timeout,
        )
    )
    if lease is not None:
        jobs.append(("lease", lambda: check_lease(lease), timeout))
    render_path = _render_path(render_yaml)
    if render_path is not None:
        jobs.append(("render.yaml", lambda: check_render_file(render_path), timeout))
    jobs += [(c.name, c.func, c.timeout or timeout) for c in extra_checks]

    try:
        results += await _run_concurrently(jobs)
    finally:
        if api is not None:
            await api.aclose()
    return PreflightReport([scrub_result(r, secrets) for r in _skip_after_get_me(results)])


def _bind(
    func: Callable[[BotCaller], Awaitable[CheckResult]], api: BotCaller
) -> Callable[[], Awaitable[CheckResult]]:
    return lambda: func(api)


def _skipped(names: Sequence[str], why: str) -> list[CheckResult]:
    return [CheckResult(name, CheckStatus.SKIP, f"skipped: {why}") for name in names]


def _skip_after_get_me(results: list[CheckResult]) -> list[CheckResult]:
    # getMe and getWebhookInfo run side by side; when getMe failed, the webhook call failed
    # for the same reason: report it as skipped rather than count the problem twice.
    by_name = {r.name: r for r in results}
    get_me, webhook = by_name.get("getMe"), by_name.get("webhook")
    if get_me is None or webhook is None or get_me.ok or webhook.ok:
        return results
    skipped = dataclasses.replace(
        webhook, status=CheckStatus.SKIP, detail="skipped: getMe failed", hint=""
    )
    return [skipped if r is webhook else r for r in results]


async def _run_concurrently(
    jobs: Sequence[tuple[str, Callable[[], Awaitable[CheckResult]], float]],
) -> list[CheckResult]:
    results: list[CheckResult | None] = [None] * len(jobs)

    async def run(
        index: int, name: str, func: Callable[[], Awaitable[CheckResult]], limit: float
    ) -> None:
        results[index] = await _guarded(name, func, limit)

    async with anyio.create_task_group() as group:
        for index, (name, func, limit) in enumerate(jobs):
            group.start_soon(run, index, name, func, limit)
    return [r for r in results if r is not None]


async def _guarded(
    name: str, func: Callable[[], Awaitable[CheckResult]], limit: float
) -> CheckResult:
    """Run one check: a timeout or an exception becomes a failed result, never an escape."""
    start = time.perf_counter()
    try:
        with anyio.fail_after(limit + _GRACE):
            result = await func()
    except TimeoutError:
        result = CheckResult(
            name,
            CheckStatus.FAIL,
            f"no answer within {limit:g}s",
            hint="the service hangs or the network drops packets",
        )
    except Exception as exc:  # a broken check must not take the others down
        result = CheckResult(
            name,
            CheckStatus.FAIL,
            f"check crashed: {type(exc).__name__}: {exc}",
            hint="this is a bug in the check; the other checks still ran",
        )
    return dataclasses.replace(result, name=name, duration=time.perf_counter() - start)


def _render_path(render_yaml: str | os.PathLike[str] | bool | None) -> Path | None:
    if render_yaml is False:
        return None
    if render_yaml is None or render_yaml is True:
        default = Path("render.yaml")
        return default if default.is_file() or render_yaml is True else None
    return Path(render_yaml)


async def check_render_file(path: Path) -> CheckResult:
    """Validate a render.yaml: errors fail, warnings warn."""
    from safe_polling._render import RenderYamlUnavailable, check_render_yaml

    try:
        # PyYAML parses in pure CPU time: keep it off the event loop.
        findings = await anyio.to_thread.run_sync(check_render_yaml, path)
    except RenderYamlUnavailable as exc:
        return CheckResult("render.yaml", CheckStatus.WARN, str(exc), hint=exc.hint)
    errors = [f for f in findings if f.is_error]
    warnings = [f for f in findings if not f.is_error]
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return CheckResult(
            "render.yaml",
            CheckStatus.FAIL,
            f"{errors[0].message}{more}",
            hint=f"run: safe-polling check-render {path}",
        )
    if warnings:
        return CheckResult(
            "render.yaml",
            CheckStatus.WARN,
            f"{warnings[0].message}"
            + (f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""),
            hint=f"run: safe-polling check-render {path}",
        )
    return CheckResult("render.yaml", CheckStatus.OK, f"{path} is valid")


async def check_lease(lease: LeaseLike) -> CheckResult:
    """Ask the lease backend who holds the lease: free is ok, another holder is a warning."""
    from safe_polling.lease._base import LeaseUnavailable

    described = lease.describe()
    try:
        holder = await lease.holder()
    except LeaseUnavailable as exc:
        # It may come back: run_polling stands by and retries, so no restart loop.
        return CheckResult(
            "lease",
            CheckStatus.WARN,
            f"backend unreachable: {exc}; this instance will stand by and retry with backoff",
            hint="check that the lease backend is up; the bot polls once it answers",
        )
    except Exception as exc:  # LeaseError and driver errors alike: the backend is unusable
        return CheckResult(
            "lease",
            CheckStatus.FAIL,
            f"{described}: backend unreachable ({type(exc).__name__}: {exc})",
            hint="check SAFE_POLLING_LEASE and the backend's URL, or set SAFE_POLLING_LEASE=none",
        )
    if holder is None:
        return CheckResult("lease", CheckStatus.OK, f"{described}: free")
    if getattr(lease, "held", False):
        return CheckResult("lease", CheckStatus.OK, f"{described}: held by this process")
    # HolderInfo's str() is "host=... pid=... [since ...] version=...".
    who = str(holder)
    return CheckResult(
        "lease",
        CheckStatus.WARN,
        f"{described}: held by {who}: this instance will stand by",
        hint="normal during a deploy; the old instance releases it on SIGTERM",
    )
