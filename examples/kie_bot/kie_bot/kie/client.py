"""An async, typed client for the KIE.ai API (market, Veo 3, 4o Image, Flux Kontext, Suno).

The client reads the body's ``code`` even on HTTP 200 (KIE reports some errors that way),
accepts both ``msg`` and ``message``, and maps codes to :mod:`kie_bot.kie.errors`.
Idempotent reads (task status, account credits) are retried with backoff on 429, 455,
5xx and transport errors; a task *creation* is never retried, because a create that may
have reached KIE may also have started (and will bill) a task.

Example:
    .. code-block:: python

        async with KieClient(api_key) as kie:
            task_id = await kie.create_task(Api.MARKET, {"model": "google/nano-banana",
                                                         "input": {"prompt": "a cat"}})
            status = await kie.get_status(Api.MARKET, task_id)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, unquote

import httpx

from kie_bot.kie.errors import KieError, KieServerError, KieTransportError, error_for_code

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_UPLOAD_URL",
    "FAMILIES",
    "TEXT_PREFIX",
    "Api",
    "Family",
    "KieClient",
    "TaskState",
    "TaskStatus",
    "text_of",
    "text_result_url",
]

DEFAULT_API_URL = "https://api.kie.ai"
TEXT_PREFIX = "data:text/plain;charset=utf-8,"
DEFAULT_UPLOAD_URL = "https://kieai.redpandaai.co"


class Api(StrEnum):
    """The KIE API families; each has its own create and status endpoints.

    .. versionadded:: 0.1.0
    """

    MARKET = "market"
    VEO = "veo"
    GPT4O = "gpt4o"
    FLUX = "flux"
    SUNO = "suno"


class TaskState(StrEnum):
    """The normalised state of a KIE task.

    .. versionadded:: 0.1.0
    """

    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One normalised status answer, whatever the API family.

    Attributes:
        state (:class:`TaskState`): pending, success or failed.
        result_urls (tuple[:obj:`str`, ...]): Media URLs (on success).
        error (:obj:`str` | :obj:`None`): KIE's failure message (on failure).
        stage (:obj:`str`): The upstream word for a pending task (``queuing``,
            ``generating``, ...), for progress messages.

    .. versionadded:: 0.1.0
    """

    state: TaskState
    result_urls: tuple[str, ...] = ()
    error: str | None = None
    stage: str = ""


@dataclass(slots=True)
class _Retry:
    attempts: int
    backoff: float
    max_backoff: float = 10.0
    done: int = field(default=0)

    async def again(self) -> bool:
        """Sleep before the next attempt; False when the attempts are used up."""
        self.done += 1
        if self.done >= self.attempts:
            return False
        await asyncio.sleep(min(self.backoff * 2 ** (self.done - 1), self.max_backoff))
        return True


class KieClient:
    """Async client of the KIE.ai API.

    Args:
        api_key (:obj:`str`): The KIE API key, sent as ``Authorization: Bearer``; it never
            appears in a log line or an exception.
        api_url (:obj:`str`, optional): Base URL of the API (``KIE_API_URL``).
        upload_url (:obj:`str`, optional): Base URL of the file upload host
            (``KIE_UPLOAD_URL``).
        timeout (:obj:`float`, optional): Per-request timeout in seconds.
        attempts (:obj:`int`, optional): Tries of an idempotent read before giving up.
        backoff (:obj:`float`, optional): First wait between tries, doubled each time.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        upload_url: str = DEFAULT_UPLOAD_URL,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 1.0,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._upload_url = upload_url.rstrip("/")
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._http = httpx.AsyncClient(
            timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}
        )

    def __repr__(self) -> str:  # never show the key
        return f"KieClient(api_url={self._api_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying connection pool.

        .. versionadded:: 0.1.0
        """
        await self._http.aclose()

    async def create_task(self, api: Api, body: Mapping[str, Any]) -> str:
        """Start a generation and return its task id. Never retried.

        Args:
            api (:class:`Api`): The API family of the model.
            body (Mapping): The request body, complete (do not rely on server defaults).

        Returns:
            :obj:`str`: KIE's ``taskId``.

        Raises:
            KieError: The typed error for the answer; :class:`KieTransportError` with
                ``maybe_sent=True`` when a task may exist although no answer came back.

        .. versionadded:: 0.1.0
        """
        data = await self._call("POST", self._api_url + FAMILIES[api].create, json=dict(body))
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise KieServerError(200, "create answered without a taskId")
        return task_id

    async def get_status(self, api: Api, task_id: str) -> TaskStatus:
        """Return the normalised status of a task (retried on transient errors).

        Args:
            api (:class:`Api`): The API family the task was created with.
            task_id (:obj:`str`): The id returned by :meth:`create_task`.

        Returns:
            :class:`TaskStatus`

        Raises:
            KieError: After the retries, or at once for a non-transient code.

        .. versionadded:: 0.1.0
        """
        url = self._api_url + FAMILIES[api].status
        data = await self._call("GET", url, params={"taskId": task_id}, retry=True)
        if not isinstance(data, dict):
            raise KieServerError(200, "status answered without data")
        return FAMILIES[api].normalise(data)

    async def get_credits(self) -> int:
        """Return the remaining credits of the KIE account (retried on transient errors).

        .. versionadded:: 0.1.0
        """
        data = await self._call("GET", self._api_url + "/api/v1/chat/credit", retry=True)
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise KieServerError(200, "credit answered without a number")
        return int(data)

    async def upload_file(
        self, content: bytes, file_name: str, *, upload_path: str = "kie-bot"
    ) -> str:
        """Upload bytes to KIE's file host and return the ``downloadUrl`` to use as input.

        Retried on transient errors: a repeated upload only stores a second copy.

        Args:
            content (:obj:`bytes`): The file (for example a user's photo).
            file_name (:obj:`str`): The name to store it under.
            upload_path (:obj:`str`, optional): The folder on the upload host.

        Returns:
            :obj:`str`: A URL valid for about one to three days.

        .. versionadded:: 0.1.0
        """
        data = await self._call(
            "POST",
            self._upload_url + "/api/file-stream-upload",
            files={"file": (file_name, content)},
            data={"uploadPath": upload_path, "fileName": file_name},
            retry=True,
        )
        url = data.get("downloadUrl") if isinstance(data, dict) else None
        if not isinstance(url, str) or not url:
            raise KieServerError(200, "upload answered without a downloadUrl")
        return url

    async def download_url(self, url: str) -> str:
        """Return a direct link (valid 20 minutes) for a KIE-hosted media URL.

        .. versionadded:: 0.1.0
        """
        data = await self._call(
            "POST", self._api_url + "/api/v1/common/download-url", json={"url": url}, retry=True
        )
        if not isinstance(data, str) or not data:
            raise KieServerError(200, "download-url answered without a link")
        return data

    async def _call(self, method: str, url: str, *, retry: bool = False, **kwargs: Any) -> Any:
        retries = _Retry(self._attempts if retry else 1, self._backoff)
        while True:
            try:
                return await self._once(method, url, **kwargs)
            except KieError as exc:
                if not (exc.transient and await retries.again()):
                    raise

    async def _once(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Connect errors happen before a byte is sent; anything later may have been
            # received (and acted upon) by KIE. `from None`: the cause holds the request.
            not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            kind = type(exc).__name__
            raise KieTransportError(
                f"{kind} calling {_path(url)}", maybe_sent=not not_sent
            ) from None
        return _unwrap(response)


def _path(url: str) -> str:
    return httpx.URL(url).path


def _unwrap(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        status = response.status_code if response.status_code != 200 else 500
        raise error_for_code(status, f"non-JSON answer (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise error_for_code(500, "answer is not a JSON object")
    raw = body.get("code")
    # The body's code is the authority (errors arrive with HTTP 200 too); the HTTP status
    # only fills in when the body has none, or says 200 on an HTTP error.
    code = raw if isinstance(raw, int) and not isinstance(raw, bool) else response.status_code
    if response.status_code >= 400 and code == 200:
        code = response.status_code
    if code != 200:
        message = body.get("msg") or body.get("message") or ""
        raise error_for_code(code, str(message))
    return body.get("data")


def _loads(value: Any) -> Any:
    """Decode KIE's JSON-in-a-string fields (``resultJson``, ``param``)."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value else {}
        except ValueError:
            return {}
    return value if value is not None else {}


def text_result_url(value: Any) -> str:
    """A text result as a ``data:text/plain`` URL, so it travels like any other result.

    The ``text`` of an object (ElevenLabs speech-to-text), else the object as JSON.

    .. versionadded:: 0.1.0
    """
    text = value.get("text") if isinstance(value, dict) else None
    if not isinstance(text, str):
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return TEXT_PREFIX + quote(text, safe="")


def text_of(url: str) -> str | None:
    """The text of a :func:`text_result_url` (:obj:`None` for any other URL).

    .. versionadded:: 0.1.0
    """
    if not url.startswith(TEXT_PREFIX):
        return None
    return unquote(url[len(TEXT_PREFIX) :], errors="replace")


def _urls(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(u for u in value if isinstance(u, str) and u)
    return ()


def _market(data: dict[str, Any]) -> TaskStatus:
    state = str(data.get("state") or "waiting")
    if state == "success":
        result = _loads(data.get("resultJson"))
        urls = _urls(result.get("resultUrls")) if isinstance(result, dict) else ()
        if not urls and isinstance(result, dict) and result.get("resultObject"):
            # Text models (speech-to-text) answer an object instead of files.
            urls = (text_result_url(result["resultObject"]),)
        return TaskStatus(TaskState.SUCCESS, urls)
    if state == "fail":
        error = data.get("failMsg") or data.get("failCode") or "generation failed"
        return TaskStatus(TaskState.FAILED, error=str(error))
    return TaskStatus(TaskState.PENDING, stage=state)


def _flagged(data: dict[str, Any], *, url_key: str) -> TaskStatus:
    """Veo, 4o Image and Flux: ``successFlag`` 0 running, 1 ok, 2/3 failed."""
    flag = data.get("successFlag")
    response = data.get("response") or {}
    if flag == 1:
        urls = _urls(response.get(url_key)) if isinstance(response, dict) else ()
        return TaskStatus(TaskState.SUCCESS, urls)
    if flag in (2, 3):
        error = data.get("errorMessage") or data.get("errorCode") or "generation failed"
        return TaskStatus(TaskState.FAILED, error=str(error))
    return TaskStatus(TaskState.PENDING, stage=str(data.get("status") or "generating").lower())


def _suno(data: dict[str, Any]) -> TaskStatus:
    status = str(data.get("status") or "PENDING")
    if status == "SUCCESS":
        response = data.get("response") or {}
        tracks = response.get("sunoData") if isinstance(response, dict) else None
        urls = [t.get("audioUrl") for t in tracks or [] if isinstance(t, dict)]
        return TaskStatus(TaskState.SUCCESS, _urls(urls))
    if status.endswith("_FAILED") or status == "SENSITIVE_WORD_ERROR":
        return TaskStatus(TaskState.FAILED, error=str(data.get("errorMessage") or status))
    return TaskStatus(TaskState.PENDING, stage=status.lower())


@dataclass(frozen=True, slots=True)
class Family:
    """What differs between the KIE API families: the paths, and how status reads.

    Attributes:
        create (:obj:`str`): Path of the create request.
        status (:obj:`str`): Path of the status query (``?taskId=``).
        normalise (Callable): The status ``data`` to a :class:`TaskStatus`.

    .. versionadded:: 0.1.0
    """

    create: str
    status: str
    normalise: Callable[[dict[str, Any]], TaskStatus]


# One record per family (a test walks Api, so a new member without a record fails).
FAMILIES: dict[Api, Family] = {
    Api.MARKET: Family("/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo", _market),
    Api.VEO: Family(
        "/api/v1/veo/generate",
        "/api/v1/veo/record-info",
        lambda d: _flagged(d, url_key="resultUrls"),
    ),
    Api.GPT4O: Family(
        "/api/v1/gpt4o-image/generate",
        "/api/v1/gpt4o-image/record-info",
        lambda d: _flagged(d, url_key="resultUrls"),
    ),
    Api.FLUX: Family(
        "/api/v1/flux/kontext/generate",
        "/api/v1/flux/kontext/record-info",
        lambda d: _flagged(d, url_key="resultImageUrl"),
    ),
    Api.SUNO: Family("/api/v1/generate", "/api/v1/generate/record-info", _suno),
}
