"""An offline fake of the KIE.ai API for tests and local runs (aiohttp, 127.0.0.1 only).

It answers the shapes and codes of the real service (market, Veo 3, 4o Image, Flux
Kontext, Suno, credit, file upload, download-url), checks the Bearer key, and serves
the "generated" media itself (tiny PNG / MP4 / MP3 bytes) so a bot can send them.

Outcomes are controllable per model or per next task (:class:`Outcome`), and every
request is recorded in :attr:`FakeKie.requests`.

Example:
    .. code-block:: python

        async with FakeKie() as kie:
            kie.next_outcome(Outcome(fail="NSFW"))
            client = KieClient(kie.api_key, api_url=kie.api_url, upload_url=kie.upload_url)

As a process (prints the two base URLs, then serves until interrupted)::

    python -m kie_bot.kie.fake_server --port 8181 --key test-key

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import struct
import zlib
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = ["FakeKie", "Outcome", "RecordedRequest", "main"]


@dataclass
class Outcome:
    """What the fake does with one task.

    Attributes:
        polls (:obj:`int`): Status answers that say "still running" before the result.
        fail (:obj:`str` | :obj:`None`): Finish as failed with this message instead.
        create_code (:obj:`int` | :obj:`None`): Refuse the create with this KIE code
            (402, 429, 455, 500, ...); no task is made.
        http_status (:obj:`int` | :obj:`None`): HTTP status of that refusal; :obj:`None`
            answers HTTP 200 with the code only in the body, as KIE sometimes does.
        use_message_key (:obj:`bool`): Put the text under ``message`` instead of ``msg``.
        delay (:obj:`float`): Seconds to wait before answering the create.
        never_finish (:obj:`bool`): Stay pending forever (for timeouts).
        media_size (:obj:`int`): Pad the served media to this many bytes (0: tiny).
        result_urls (tuple[:obj:`str`, ...] | :obj:`None`): Report these result URLs instead
            of the fake's own media (an empty tuple: success with no result at all).
        redirect_to (:obj:`str` | :obj:`None`): The task's media answers ``302`` to this
            location instead of the file.

    .. versionadded:: 0.1.0
    """

    polls: int = 1
    fail: str | None = None
    create_code: int | None = None
    http_status: int | None = None
    use_message_key: bool = False
    delay: float = 0.0
    never_finish: bool = False
    media_size: int = 0
    result_urls: tuple[str, ...] | None = None
    redirect_to: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (the Authorization header is not kept).

    .. versionadded:: 0.1.0
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorized: bool


@dataclass
class _Task:
    task_id: str
    api: str
    model: str
    body: dict[str, Any]
    outcome: Outcome
    polls: int = 0
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Family:
    """One KIE API family as the fake serves it (its own copy of the wire paths)."""

    create: str
    status: str
    build: Any  # (task, done, media base URL) -> the status "data" object


_MESSAGES = {
    401: "You do not have access permissions",
    402: "Credits insufficient",
    422: "recordInfo is null",
    429: "Rate limited",
    455: "Service unavailable: maintenance",
    500: "Server error",
}


def tiny_png() -> bytes:
    """Return a valid 1x1 PNG.

    .. versionadded:: 0.1.0
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xcc\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


_MP4 = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413
_JSON: web.RequestKey[Any] = web.RequestKey("json", object)
_MEDIA = {
    "png": ("image/png", tiny_png()),
    "mp4": ("video/mp4", _MP4),
    "mp3": ("audio/mpeg", _MP3),
}


class FakeKie:
    """The fake KIE server: API and upload host on two 127.0.0.1 ports.

    Args:
        api_key (:obj:`str`, optional): The key every request must carry.
        port (:obj:`int`, optional): Port of the API (0: any free one); the upload host
            uses the next free port.
        default (:class:`Outcome`, optional): The outcome of a model with none set.

    Attributes:
        api_url (:obj:`str`): Base URL for ``KIE_API_URL``.
        upload_url (:obj:`str`): Base URL for ``KIE_UPLOAD_URL``.
        requests (list[:class:`RecordedRequest`]): Everything received, in order.
        credits (:obj:`int`): What ``/api/v1/chat/credit`` reports.
        tasks (dict): Created tasks by id.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, api_key: str = "test-kie-key", *, port: int = 0, default: Outcome | None = None
    ) -> None:
        self.api_key = api_key
        self.default = default or Outcome()
        self.requests: list[RecordedRequest] = []
        self.credits = 1000
        self.tasks: dict[str, _Task] = {}
        self.uploads: dict[str, bytes] = {}
        self._port = port
        self._by_model: dict[str, Outcome] = {}
        self._next: deque[Outcome] = deque()
        self._errors: dict[str, deque[tuple[int, int | None, float]]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.api_url = ""
        self.upload_url = ""

    # -- control -------------------------------------------------------------------------
    def set_outcome(self, model: str, outcome: Outcome) -> None:
        """Use *outcome* for every task of *model* (market slug or Veo/Suno model name).

        .. versionadded:: 0.1.0
        """
        self._by_model[model] = outcome

    def next_outcome(self, *outcomes: Outcome) -> None:
        """Use these outcomes for the next created tasks, in order (before per-model ones).

        .. versionadded:: 0.1.0
        """
        self._next.extend(outcomes)

    def fail_requests(
        self,
        path: str,
        code: int,
        *,
        times: int = 1,
        http_status: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next *times* requests to *path* with KIE *code* (after *delay* s).

        *http_status* :obj:`None` sends HTTP 200 with the code only in the body.

        .. versionadded:: 0.1.0
        """
        queue = self._errors.setdefault(path, deque())
        queue.extend([(code, http_status, delay)] * times)

    def finish(self, task_id: str, *, fail: str | None = None) -> None:
        """Let a ``never_finish`` task end at its next poll: succeed, or fail with *fail*.

        .. versionadded:: 0.1.0
        """
        task = self.tasks[task_id]
        task.outcome = Outcome(polls=0, fail=fail, media_size=task.outcome.media_size)
        task.polls = 0

    def created(self, api: str | None = None) -> list[RecordedRequest]:
        """Return the create requests received (optionally of one API family).

        .. versionadded:: 0.1.0
        """
        paths = {_FAMILIES[a].create for a in ([api] if api else list(_FAMILIES))}
        return [r for r in self.requests if r.method == "POST" and r.path in paths]

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind both ports and start serving.

        .. versionadded:: 0.1.0
        """
        app = web.Application(middlewares=[self._middleware])
        for api, family in _FAMILIES.items():
            app.router.add_post(family.create, self._create_handler(api))
            app.router.add_get(family.status, self._status_handler(api))
        app.router.add_get("/api/v1/chat/credit", self._credit)
        app.router.add_post("/api/v1/common/download-url", self._download_url)
        app.router.add_post("/api/file-stream-upload", self._upload)
        app.router.add_get("/media/{name}", self._media)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        urls = []
        for port in (self._port, 0):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            await web.SockSite(self._runner, sock).start()
            urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
        self.api_url, self.upload_url = urls

    async def stop(self) -> None:
        """Stop serving.

        .. versionadded:: 0.1.0
        """
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- handlers ------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
        authorized = request.headers.get("Authorization") == f"Bearer {self.api_key}"
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), body, authorized)
        )
        request[_JSON] = body
        if request.path.startswith(("/media/", "/files/")):
            return await handler(request)  # type: ignore[no-any-return]
        if not authorized:
            return _envelope(401, http_status=401)
        queued = self._errors.get(request.path)
        if queued:
            code, http_status, delay = queued.popleft()
            await asyncio.sleep(delay)
            return _envelope(code, http_status=http_status)
        return await handler(request)  # type: ignore[no-any-return]

    def _create_handler(self, api: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = request[_JSON] or {}
            model = str(body.get("model") or api)
            outcome = self._by_model.get(model, self.default)
            if self._next:
                outcome = self._next.popleft()
            await asyncio.sleep(outcome.delay)
            if outcome.create_code is not None:
                return _envelope(
                    outcome.create_code,
                    http_status=outcome.http_status,
                    message_key="message" if outcome.use_message_key else "msg",
                )
            task_id = f"task_{api}_{next(self._ids)}"
            self.tasks[task_id] = _Task(task_id, api, model, body, outcome)
            return _envelope(200, {"taskId": task_id})

        return handle

    def _status_handler(self, api: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            task = self.tasks.get(request.query.get("taskId", ""))
            if task is None or task.api != api:
                return _envelope(422, http_status=None)
            task.polls += 1
            outcome = task.outcome
            done = not outcome.never_finish and task.polls > outcome.polls
            base = f"http://{request.host}/media/{task.task_id}"
            return _envelope(200, _FAMILIES[api].build(task, done, base))

        return handle

    async def _credit(self, request: web.Request) -> web.Response:
        return _envelope(200, self.credits)

    async def _download_url(self, request: web.Request) -> web.Response:
        url = (request[_JSON] or {}).get("url")
        if not isinstance(url, str):
            return _envelope(422)
        return _envelope(200, url)

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return _envelope(400, message_key="message")
        name = f"{next(self._ids)}-{upload.filename}"
        self.uploads[name] = upload.file.read()
        url = f"http://{request.host}/files/{name}"
        return _envelope(200, {"downloadUrl": url, "fileName": name}, message_key="message")

    async def _file(self, request: web.Request) -> web.Response:
        content = self.uploads.get(request.match_info["name"])
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content)

    async def _media(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        task_id, _, ext = name.partition(".")
        task = self.tasks.get(task_id.rsplit("-", 1)[0])
        if task is None or ext not in _MEDIA:
            raise web.HTTPNotFound()
        if task.outcome.redirect_to is not None:
            raise web.HTTPFound(task.outcome.redirect_to)
        content_type, content = _MEDIA[ext]
        if task.outcome.media_size > len(content):
            content = content + b"\x00" * (task.outcome.media_size - len(content))
        return web.Response(body=content, content_type=content_type)


def _envelope(
    code: int, data: Any = None, *, http_status: int | None = None, message_key: str = "msg"
) -> web.Response:
    text = "success" if code == 200 else _MESSAGES.get(code, f"error {code}")
    body = {"code": code, message_key: text, "data": data}
    return web.json_response(body, status=http_status or 200)


def _urls(task: _Task, own: list[str]) -> list[str]:
    """The result URLs to report: the outcome's override, else the fake's own media."""
    override = task.outcome.result_urls
    return own if override is None else list(override)


# What a market model returns, by the words of its slug: the fake's own table, kept apart
# from the bot's catalog so that a model the bot sends the wrong way fails a test.
TRANSCRIPT = "Hello from the fake KIE transcription."
_AUDIO_WORDS = ("text-to-speech", "sound-effect", "audio-isolation", "suno")
_VIDEO_WORDS = (
    *("video", "veo", "kling", "hailuo", "sora", "wan/", "runway", "grok/imagine"),
    *("avatar", "infinitalk", "watermark"),
)
_STILL = frozenset({"kling/v2-5-turbo"})  # a Kling model KIE's table lists as text-to-image
_SEVERAL = {"midjourney/api": 4}  # Midjourney answers a grid of four images


def _market_result(model: str) -> tuple[str, int]:
    """(file extension or ``text``, how many results) for a market model id."""
    if "speech-to-text" in model:
        return "text", 1
    if any(word in model for word in _AUDIO_WORDS):
        return "mp3", 1
    if model not in _STILL and any(word in model for word in _VIDEO_WORDS):
        return "mp4", 1
    return "png", _SEVERAL.get(model, 1)


def _market_status(task: _Task, done: bool, base: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "taskId": task.task_id,
        "model": task.model,
        "param": json.dumps(task.body),
        "state": "generating" if task.polls > 1 else "queuing",
        "resultJson": "",
        "failCode": "",
        "failMsg": "",
    }
    if done and task.outcome.fail:
        data.update(state="fail", failCode="501", failMsg=task.outcome.fail)
    elif done:
        kind, count = _market_result(task.model)
        if kind == "text":
            result: dict[str, Any] = {"resultObject": {"text": TRANSCRIPT, "language_code": "en"}}
        else:
            result = {"resultUrls": _urls(task, [f"{base}-{i}.{kind}" for i in range(count)])}
        data.update(state="success", resultJson=json.dumps(result))
    return data


def _flagged_status(ext: str, url_key: str, many: bool) -> Any:
    def build(task: _Task, done: bool, base: str) -> dict[str, Any]:
        data: dict[str, Any] = {"taskId": task.task_id, "successFlag": 0, "status": "GENERATING"}
        if done and task.outcome.fail:
            data.update(successFlag=2, errorCode=501, errorMessage=task.outcome.fail)
            data["status"] = "GENERATE_FAILED"
        elif done:
            urls = _urls(task, [f"{base}.{ext}"])
            data.update(successFlag=1, status="SUCCESS")
            data["response"] = {url_key: urls if many else next(iter(urls), "")}
        return data

    return build


def _suno_status(task: _Task, done: bool, base: str) -> dict[str, Any]:
    data: dict[str, Any] = {"taskId": task.task_id, "status": "PENDING"}
    if done and task.outcome.fail:
        data.update(status="GENERATE_AUDIO_FAILED", errorMessage=task.outcome.fail)
    elif done:
        urls = _urls(task, [f"{base}-{i}.mp3" for i in (1, 2)])
        tracks = [{"audioUrl": url, "title": "Song", "duration": 1.0} for url in urls]
        data.update(status="SUCCESS", response={"sunoData": tracks})
    elif task.polls > 1:
        data["status"] = "TEXT_SUCCESS"
    return data


_FAMILIES = {
    "market": _Family("/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo", _market_status),
    "veo": _Family(
        "/api/v1/veo/generate",
        "/api/v1/veo/record-info",
        _flagged_status("mp4", "resultUrls", True),
    ),
    "gpt4o": _Family(
        "/api/v1/gpt4o-image/generate",
        "/api/v1/gpt4o-image/record-info",
        _flagged_status("png", "resultUrls", True),
    ),
    "flux": _Family(
        "/api/v1/flux/kontext/generate",
        "/api/v1/flux/kontext/record-info",
        _flagged_status("png", "resultImageUrl", False),
    ),
    "suno": _Family("/api/v1/generate", "/api/v1/generate/record-info", _suno_status),
}


def main(argv: list[str] | None = None) -> None:
    """Run the fake as a process: ``python -m kie_bot.kie.fake_server --port N``.

    .. versionadded:: 0.1.0
    """
    parser = argparse.ArgumentParser(description="Offline fake of the KIE.ai API")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-kie-key", help="the API key to accept")
    parser.add_argument(
        "--polls", type=int, default=1, help="status checks that say 'running' before a result"
    )
    args = parser.parse_args(argv)

    async def serve() -> None:
        async with FakeKie(args.key, port=args.port, default=Outcome(polls=args.polls)) as kie:
            print(f"KIE_API_URL={kie.api_url}", flush=True)
            print(f"KIE_UPLOAD_URL={kie.upload_url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
