"""getUpdates long polling, the 409 Conflict rules and the webhook methods."""

from __future__ import annotations

import asyncio
import re
from typing import Any, NoReturn
from urllib.parse import urlsplit

from safe_polling.testing import _objects
from safe_polling.testing._core import Core
from safe_polling.testing._params import (
    Answer,
    ApiError,
    Upload,
    bad_request,
    get_bool,
    get_int,
    get_json,
    get_str,
    present,
)
from safe_polling.testing._records import (
    CONFLICT_OTHER_GET_UPDATES,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
)
from safe_polling.testing._state import BotState, Waiter

__all__ = [
    "MAX_TIMEOUT",
    "OTHER_GET_UPDATES",
    "TERMINATED_BY_SET_WEBHOOK",
    "WEBHOOK_ACTIVE",
    "conflict",
    "delete_webhook",
    "get_updates",
    "get_webhook_info",
    "install_webhook",
    "set_webhook",
    "set_webhook_error",
]

MAX_TIMEOUT = 50
OTHER_GET_UPDATES = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def conflict(core: Core, state: BotState, kind: str, description: str) -> NoReturn:
    """Answer 409, throttled like the real server.

    At most one 409 per ``conflict_delay`` seconds goes out at once; later ones are held for
    ``conflict_delay`` seconds, so two instances knocking each other off slow down.
    """
    state.conflicts[kind] += 1
    now = asyncio.get_running_loop().time()
    if now >= state.next_immediate_conflict:
        state.next_immediate_conflict = now + core.conflict_delay
    else:
        await asyncio.sleep(core.conflict_delay)
    raise ApiError(409, description)


async def get_updates(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getUpdates``: confirm by offset, then return updates or long-poll for them."""
    state.get_updates_calls += 1
    if state.webhook.url:
        await conflict(core, state, CONFLICT_WEBHOOK_ACTIVE, WEBHOOK_ACTIVE)
    limit = min(max(get_int(params, "limit", 100), 1), 100)
    timeout = min(max(get_int(params, "timeout"), 0), MAX_TIMEOUT)
    _remember_allowed_updates(state, params)
    # A newer getUpdates ends the older waiting one, whatever the newer one then does.
    state.wake((CONFLICT_OTHER_GET_UPDATES, OTHER_GET_UPDATES))
    core.poll_started(state)
    try:
        state.confirm(get_int(params, "offset"))
        reason = await _long_poll(state, timeout)
    finally:
        core.poll_finished(state)
    if reason is not None:
        await conflict(core, state, *reason)
    return state.updates[:limit]


def _remember_allowed_updates(state: BotState, params: dict[str, Any]) -> None:
    if not present(params, "allowed_updates"):
        return
    value = get_json(params, "allowed_updates", "allowed updates")
    if isinstance(value, list):
        state.allowed_updates = [str(v) for v in value] or None


async def _long_poll(state: BotState, timeout: int) -> tuple[str, str] | None:
    """Wait until updates arrive, the timeout passes (None) or a 409 ends the wait (reason)."""
    if state.updates or timeout <= 0:
        return None
    waiter = Waiter(asyncio.get_running_loop().create_future())
    state.waiter = waiter
    try:
        return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
    except TimeoutError:
        return None
    finally:
        if state.waiter is waiter:
            state.waiter = None


async def set_webhook(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``setWebhook``: an empty url deletes the webhook; otherwise validate and set it."""
    url = get_str(params, "url")
    if not url:
        return _delete(state, get_bool(params, "drop_pending_updates"))
    _validate_webhook_url(url)
    secret = get_str(params, "secret_token")
    if secret and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = get_json(params, "allowed_updates", "allowed updates")
    already = state.webhook.url == url
    install_webhook(state, url)
    hook = state.webhook
    hook.has_custom_certificate = isinstance(params.get("certificate"), Upload)
    hook.max_connections = min(max(get_int(params, "max_connections", 40), 1), 100)
    hook.ip_address = get_str(params, "ip_address") or None
    hook.secret_token = secret or None
    if isinstance(allowed, list):
        hook.allowed_updates = [str(v) for v in allowed] or None
    if get_bool(params, "drop_pending_updates"):
        state.drop_pending()
    return Answer(True, "Webhook is already set" if already else "Webhook was set")


def _validate_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise bad_request("bad webhook: HTTPS url must be provided for webhook")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise bad_request("bad webhook: invalid port") from exc
    if port not in {80, 88, 443, 8443}:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")


def install_webhook(state: BotState, url: str) -> None:
    """Set the webhook url, ending a waiting long poll with ``terminated by setWebhook``."""
    if state.webhook.url != url:
        state.webhook.last_error_date = None
        state.webhook.last_error_message = None
    state.webhook.url = url
    state.wake((CONFLICT_SET_WEBHOOK, TERMINATED_BY_SET_WEBHOOK))


async def delete_webhook(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``deleteWebhook``: remove the webhook, optionally dropping pending updates."""
    given = present(params, "drop_pending_updates")
    drop = get_bool(params, "drop_pending_updates") if given else None
    state.delete_webhook_calls.append(drop)
    return _delete(state, bool(drop))


def _delete(state: BotState, drop: bool) -> Answer:
    had = bool(state.webhook.url)
    state.webhook = type(state.webhook)()
    if drop:
        state.drop_pending()
    return Answer(True, "Webhook was deleted" if had else "Webhook is already deleted")


async def get_webhook_info(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getWebhookInfo``: url ("" when polling), certificate, pending count, errors."""
    hook = state.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": hook.has_custom_certificate,
        "pending_update_count": len(state.updates),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
    if hook.last_error_date is not None:
        info["last_error_date"] = hook.last_error_date
        info["last_error_message"] = hook.last_error_message or ""
    return info


def set_webhook_error(state: BotState, message: str) -> None:
    """Record a delivery error shown by getWebhookInfo (test side)."""
    state.webhook.last_error_date = _objects.now()
    state.webhook.last_error_message = message
