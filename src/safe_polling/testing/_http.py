"""The bot-facing HTTP side: ``/bot{token}/{method}`` and ``/file/bot{token}/{path}``."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from safe_polling.testing._core import Core
from safe_polling.testing._methods import BY_LOWER, METHODS
from safe_polling.testing._params import Answer, ApiError, read_params, recordable
from safe_polling.testing._records import Call

__all__ = [
    "BotHandler",
    "add_routes",
    "envelope",
]

_LOG = logging.getLogger("safe_polling.testing")


def envelope(error: ApiError) -> web.Response:
    """The Bot API error envelope, with the same HTTP status as ``error_code``."""
    body: dict[str, Any] = {
        "ok": False,
        "error_code": error.code,
        "description": error.description,
    }
    if error.parameters:
        body["parameters"] = error.parameters
    return web.json_response(body, status=error.code)


def _split_path(raw_path: str) -> tuple[str, str]:
    """``/bot<token>/<method>`` -> (token, method), URL-decoded.

    Raises:
        ApiError: 404 ``Not Found`` for anything else.
    """
    path = raw_path.split("?", 1)[0]
    if not path.startswith("/bot"):
        raise ApiError(404, "Not Found")
    token, sep, method = path[4:].partition("/")
    if not sep or not method:
        raise ApiError(404, "Not Found")
    return unquote(token), unquote(method)


async def _params_or_empty(request: web.Request) -> dict[str, Any]:
    try:
        return await read_params(request)
    except ApiError:
        return {}


class BotHandler:
    """aiohttp handlers bound to a :class:`Core`."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def bot_api(self, request: web.Request) -> web.StreamResponse:
        """Serve one Bot API method call after the simulated round trip (half each way)."""
        try:
            method = _split_path(request.raw_path)[1]
        except ApiError:
            method = ""
        half = self.core.latency.of(BY_LOWER.get(method.lower(), method)) / 2
        if half:
            await asyncio.sleep(half)
        response = await self._answer(request)
        if half:
            await asyncio.sleep(half)
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        """Serve one Bot API method call and record it in ``core.calls``."""
        arrived = time.time()
        try:
            token, method = _split_path(request.raw_path)
        except ApiError as error:
            return envelope(error)
        canonical = BY_LOWER.get(method.lower(), method)
        params: dict[str, Any] = {}
        started: Call | None = None
        status = 200
        description = ""
        try:
            state = self.core.authorize(token)
            if canonical not in METHODS:
                params = await _params_or_empty(request)
                raise ApiError(404, "Not Found")
            params = await read_params(request)
            started = self.core.begin_call(canonical, recordable(params), token, arrived)
            planned = self.core.take_planned_error(token, canonical)
            if planned is not None:
                raise planned
            result = await METHODS[canonical](self.core, state, params)
        except ApiError as error:
            status, description = error.code, error.description
            return envelope(error)
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        except Exception:
            # A bug in the fake must show up as a failing request, not a dead server.
            _LOG.exception("fake Bot API failed on %s", canonical)
            status, description = 500, "Internal Server Error"
            return envelope(ApiError(500, description))
        finally:
            self.core.end_call(
                started, Call(canonical, recordable(params), token, arrived, status, description)
            )
        body: dict[str, Any] = {"ok": True, "result": result}
        if isinstance(result, Answer):
            body = {"ok": True, "result": result.result, "description": result.description}
        return web.json_response(body)

    async def file(self, request: web.Request) -> web.StreamResponse:
        """Serve file bytes at ``/file/bot<token>/<file_path>``."""
        try:
            state = self.core.authorize(unquote(request.match_info["token"]))
        except ApiError as error:
            return envelope(error)
        stored = state.file_by_path(request.match_info["path"])
        if stored is None:
            return envelope(ApiError(404, "Not Found"))
        ctype = mimetypes.guess_type(stored.file_path)[0] or "application/octet-stream"
        return web.Response(body=stored.data, content_type=ctype)


def add_routes(app: web.Application, core: Core) -> None:
    """Register the file server and the catch-all Bot API route."""
    handler = BotHandler(core)
    app.router.add_get("/file/bot{token}/{path:.+}", handler.file)
    app.router.add_route("*", "/{tail:.*}", handler.bot_api)
