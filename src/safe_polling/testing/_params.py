"""Request parameters of the fake Bot API: parsing bodies and reading typed values.

The real server treats every parameter as a string and converts it per method; PTB 22 sends
form bodies whose non-string values are JSON-encoded. Parameters are therefore decoded once
(JSON where the field is not a known free-text field) and read with typed getters that accept
both the decoded and the string form, so JSON bodies and form bodies behave the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = [
    "Answer",
    "ApiError",
    "Upload",
    "bad_request",
    "decode_value",
    "get_bool",
    "get_int",
    "get_json",
    "get_str",
    "present",
    "read_params",
    "recordable",
]

# Free-text fields stay strings even when they look like JSON ("123", "true").
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "title",
        "description",
        "payload",
        "start_parameter",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "parse_mode",
        "currency",
        "callback_query_id",
        "pre_checkout_query_id",
        "error_message",
        "inline_message_id",
        "telegram_payment_charge_id",
        "language_code",
        "file_id",
        "provider_token",
        "provider_data",
        "photo",
        "video",
        "audio",
        "document",
        "thumbnail",
        "business_connection_id",
        "message_effect_id",
        "performer",
        "photo_url",
        "data",
    }
)


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(frozen=True)
class Answer:
    """A successful result that also carries a ``description`` (as deleteWebhook's has)."""

    result: Any
    description: str


def bad_request(detail: str) -> ApiError:
    """Return a 400 ``Bad Request: {detail}`` error."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart body."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        """JSON-safe description used in recorded params."""
        return {
            "upload": True,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


def decode_value(field: str, value: str) -> Any:
    """Decode one form value the way PTB encoded it (JSON unless it is free text)."""
    if field in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> dict[str, Any]:
    """Read query-string and body parameters (body wins), decoding JSON-encoded values.

    Raises:
        ApiError: 400 when the body cannot be parsed.
    """
    params: dict[str, Any] = {k: decode_value(k, v) for k, v in request.query.items()}
    if not request.can_read_body:
        return params
    ctype = request.content_type
    try:
        if ctype == "application/json":
            body = json.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise bad_request("parameters must be a JSON object")
            params.update(body)
        elif ctype == "application/x-www-form-urlencoded":
            form = await request.post()
            params.update({k: decode_value(k, str(v)) for k, v in form.items()})
        elif ctype == "multipart/form-data":
            params.update(await _read_multipart(request))
    except ApiError:
        raise
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "Request Entity Too Large") from exc
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        # Junk bodies are the client's fault: a 400, never a 500.
        raise bad_request(f"can't parse request body ({type(exc).__name__})") from exc
    return params


async def _read_multipart(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        data = await part.read()
        if part.filename is not None:
            ptype = part.headers.get("Content-Type")
            params[part.name] = Upload(part.name, part.filename, ptype, bytes(data))
        else:
            params[part.name] = decode_value(part.name, data.decode("utf-8"))
    return params


def present(params: dict[str, Any], name: str) -> bool:
    """Whether a parameter was given with a non-empty value."""
    value = params.get(name)
    return value is not None and value != ""


def get_str(params: dict[str, Any], name: str, default: str = "") -> str:
    """Read a string parameter (numbers are stringified like the real server does)."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def get_int(params: dict[str, Any], name: str, default: int = 0) -> int:
    """Read an integer parameter; unparsable values count as the default like the server."""
    value = params.get(name)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text) if text.lstrip("-").isdigit() else int(float(text))
        except (ValueError, OverflowError):
            return default
    return default


def get_bool(params: dict[str, Any], name: str) -> bool:
    """Read a boolean parameter ("true"/"1" style strings accepted)."""
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def get_json(params: dict[str, Any], name: str, what: str) -> Any:
    """Read a JSON-valued parameter (already decoded or still a string).

    Raises:
        ApiError: 400 ``can't parse {what} JSON object`` for invalid JSON.
    """
    value = params.get(name)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(f"can't parse {what} JSON object") from exc
    return value


def recordable(params: dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of params (uploads replaced by their description)."""
    return {k: v.describe() if isinstance(v, Upload) else v for k, v in params.items()}
