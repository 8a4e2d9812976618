"""The JSON control API (``/_control/...``) that lets other processes drive a fake.

The routes see the fake only through :class:`Controlled`, the part of ``FakeBotAPI`` they
use, so this module does not import the server (which registers these routes).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from aiohttp import web

from safe_polling.testing._records import Call, FakeStats, Sent, SentPredicate

__all__ = ["Controlled", "add_routes"]


class Controlled(Protocol):
    """What the control routes need of a fake (``FakeBotAPI`` has it); ``inject/<kind>``
    calls its ``inject_<kind>`` methods by name."""

    @property
    def token(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def base_file_url(self) -> str: ...
    @property
    def calls(self) -> list[Call]: ...
    @property
    def stats(self) -> FakeStats: ...
    @property
    def sent_count(self) -> int: ...
    def sent(self, chat_id: int | None = None, *, token: str | None = None) -> list[Sent]: ...
    async def wait_for(
        self,
        what: str | SentPredicate,
        *,
        chat_id: int | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Sent: ...
    def set_webhook(self, url: str, *, token: str | None = None) -> None: ...
    def set_webhook_error(self, message: str, *, token: str | None = None) -> None: ...
    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        token: str | None = None,
    ) -> None: ...
    def pending_updates(self, *, token: str | None = None) -> list[dict[str, Any]]: ...
    def file_bytes(self, file_id: str, *, token: str | None = None) -> bytes: ...
    def reset_stats(self) -> None: ...
    def reset(self) -> None: ...
    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        username: str | None = None,
        is_bot: bool = False,
        token: str | None = None,
    ) -> dict[str, Any]: ...
    def add_group(
        self,
        chat_id: int,
        title: str | None = None,
        *,
        members: dict[int, str] | None = None,
        kind: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]: ...
    def block_bot(self, user_id: int, *, token: str | None = None) -> dict[str, Any]: ...
    def unblock_bot(self, user_id: int, *, token: str | None = None) -> dict[str, Any]: ...
    def set_member_status(
        self,
        chat_id: int,
        user_id: int,
        status: str,
        *,
        by: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]: ...
    def advance_time(self, seconds: float) -> None: ...
    def set_latency(self, seconds: float, *, method: str | None = None) -> None: ...
    @property
    def latency(self) -> dict[str, Any]: ...


_Route = Callable[[Controlled, dict[str, Any]], Any]
MAX_WAIT = 30.0


def _inject(api: Controlled, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """``inject/<kind>``: the keyword arguments of ``api.inject_<kind>`` as a JSON object
    (``data_b64`` instead of bytes for photos)."""
    method = getattr(api, f"inject_{kind}", None) if kind.isidentifier() else None
    if method is None:
        raise LookupError(f"unknown injection kind {kind!r}")
    if "data_b64" in body:
        body["data"] = base64.b64decode(body.pop("data_b64"), validate=True)
    result: dict[str, Any] = method(**body)
    return result


def _info(api: Controlled, body: dict[str, Any]) -> Any:
    return {
        "token": api.token,
        "username": api.username,
        "base_url": api.base_url,
        "base_file_url": api.base_file_url,
    }


def _webhook(api: Controlled, body: dict[str, Any]) -> Any:
    api.set_webhook(body["url"], token=body.get("token"))
    return {}


def _webhook_error(api: Controlled, body: dict[str, Any]) -> Any:
    api.set_webhook_error(body["message"], token=body.get("token"))
    return {}


def _fail_next(api: Controlled, body: dict[str, Any]) -> Any:
    api.fail_next(**body)
    return {}


def _latency(api: Controlled, body: dict[str, Any]) -> Any:
    """Set a round trip when ``seconds`` is given (``method`` for one method); show them all."""
    if "seconds" in body:
        api.set_latency(float(body["seconds"]), method=body.get("method"))
    return api.latency


def _calls(api: Controlled, body: dict[str, Any]) -> Any:
    return {"calls": [asdict(c) for c in api.calls]}


def _stats(api: Controlled, body: dict[str, Any]) -> Any:
    return api.stats.to_dict()


def _pending(api: Controlled, body: dict[str, Any]) -> Any:
    return {"updates": api.pending_updates(token=body.get("token"))}


def _file(api: Controlled, body: dict[str, Any]) -> Any:
    data = api.file_bytes(body["file_id"], token=body.get("token"))
    return {"data_b64": base64.b64encode(data).decode()}


def _reset_stats(api: Controlled, body: dict[str, Any]) -> Any:
    api.reset_stats()
    return {}


def _add_user(api: Controlled, body: dict[str, Any]) -> Any:
    return {"user": api.add_user(**body)}


def _add_group(api: Controlled, body: dict[str, Any]) -> Any:
    members = body.pop("members", None)
    if members is not None:
        body["members"] = {int(k): v for k, v in members.items()}
    return {"chat": api.add_group(**body)}


def _block(api: Controlled, body: dict[str, Any]) -> Any:
    return {"update": api.block_bot(**body)}


def _unblock(api: Controlled, body: dict[str, Any]) -> Any:
    return {"update": api.unblock_bot(**body)}


def _member_status(api: Controlled, body: dict[str, Any]) -> Any:
    return {"update": api.set_member_status(**body)}


def _advance_time(api: Controlled, body: dict[str, Any]) -> Any:
    api.advance_time(float(body["seconds"]))
    return {}


def _reset(api: Controlled, body: dict[str, Any]) -> Any:
    api.reset()
    return {}


_SIMPLE: dict[str, _Route] = {
    "info": _info,
    "webhook": _webhook,
    "webhook_error": _webhook_error,
    "fail_next": _fail_next,
    "latency": _latency,
    "calls": _calls,
    "stats": _stats,
    "pending": _pending,
    "file": _file,
    "reset_stats": _reset_stats,
    "reset": _reset,
    "add_user": _add_user,
    "add_group": _add_group,
    "block": _block,
    "unblock": _unblock,
    "member_status": _member_status,
    "advance_time": _advance_time,
}


async def _sent(api: Controlled, body: dict[str, Any]) -> Any:
    """Sent records from ``after`` on; with ``wait`` > 0, wait for at least one new record."""
    after = int(body.get("after", 0))
    wait = min(float(body.get("wait", 0)), MAX_WAIT)
    if wait > 0:
        await api.wait_for(lambda s: True, after=after, timeout=wait)
    chat_id = body.get("chat_id")
    items = api.sent(None if chat_id is None else int(chat_id), token=body.get("token"))
    return {"sent": [asdict(s) for s in items if s.seq >= after], "count": api.sent_count}


async def _body(request: web.Request) -> dict[str, Any]:
    values: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        payload = await request.json()
        if not isinstance(payload, dict):
            raise TypeError("the control API takes a JSON object")
        values.update(payload)
    return values


def _handler(api: Controlled) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            body = await _body(request)
            if name.startswith("inject/"):
                result = _inject(api, name.removeprefix("inject/"), body)
                return web.json_response({"update": result})
            if name == "sent":
                try:
                    return web.json_response(await _sent(api, body))
                except TimeoutError:
                    body["wait"] = 0
                    return web.json_response(await _sent(api, body))
            route = _SIMPLE.get(name)
            if route is None:
                raise LookupError(f"unknown control endpoint {name!r}")
            return web.json_response(route(api, body))
        except KeyError as exc:
            return web.json_response({"error": f"missing or unknown: {exc}"}, status=400)
        except LookupError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        except (TypeError, ValueError, binascii.Error) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)

    return handle


def add_routes(app: web.Application, api: Controlled) -> None:
    """Register ``/_control/{name}`` (GET or POST, JSON in and out)."""
    app.router.add_route("*", "/_control/{name:.+}", _handler(api))
