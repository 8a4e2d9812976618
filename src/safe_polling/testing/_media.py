"""Media methods (sendPhoto, sendVideo, sendAudio, sendDocument) and getFile."""

from __future__ import annotations

import mimetypes
from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import formatted, send_bot_message
from safe_polling.testing._params import Upload, bad_request, get_int, get_str, present
from safe_polling.testing._state import BotState, StoredFile

MAX_CAPTION = 1024
# method -> (field, folder on the file server, default suffix)
_KINDS = {
    "sendPhoto": ("photo", "photos", ".jpg"),
    "sendVideo": ("video", "videos", ".mp4"),
    "sendAudio": ("audio", "music", ".mp3"),
    "sendDocument": ("document", "documents", ""),
}


def _resolve_file(
    state: BotState, params: dict[str, Any], field: str
) -> tuple[StoredFile, Upload | None]:
    """The stored file a media parameter names: an upload, a known file_id or a URL."""
    value = params.get(field)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    _, folder, suffix = next(k for k in _KINDS.values() if k[0] == field)
    if isinstance(value, Upload):
        name = value.filename or ""
        suffix = ("." + name.rsplit(".", 1)[1]) if "." in name else suffix
        return state.add_file(value.data, folder, suffix), value
    if not isinstance(value, str) or not value:
        raise bad_request(f"there is no {field} in the request")
    known = state.files.get(value)
    if known is not None:
        return known, None
    if value.startswith(("http://", "https://")):
        # The real server downloads the URL; the fake is offline, so the file has no bytes.
        return state.add_file(b"", folder, suffix), None
    raise bad_request("wrong file identifier/HTTP URL specified")


def _media_object(
    field: str, stored: StoredFile, upload: Upload | None, params: dict[str, Any]
) -> Any:
    base: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }
    if field == "photo":
        return [{**base, "width": 1280, "height": 720}]
    duration = get_int(params, "duration", 1)
    mime = (upload.content_type if upload else None) or mimetypes.guess_type(stored.file_path)[0]
    if mime and mime != "application/octet-stream":
        base["mime_type"] = mime
    if field == "video":
        width, height = get_int(params, "width", 640), get_int(params, "height", 360)
        return {**base, "width": width, "height": height, "duration": duration}
    if upload and upload.filename:
        base["file_name"] = upload.filename
    if field == "audio":
        extra = {k: get_str(params, k) for k in ("performer", "title") if present(params, k)}
        return {**base, "duration": duration, **extra}
    return base


async def send_media(core: Core, state: BotState, params: dict[str, Any], method: str) -> Any:
    """Send a photo, video, audio or document; uploaded bytes become downloadable."""
    field = _KINDS[method][0]
    stored, upload = _resolve_file(state, params, field)
    caption, entities = formatted(params, "caption", MAX_CAPTION)
    return send_bot_message(
        core,
        state,
        method,
        params,
        caption=caption or None,
        caption_entities=entities,
        **{field: _media_object(field, stored, upload, params)},
    )


async def get_file(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getFile``: the File with its relative ``file_path`` for the file server."""
    file_id = get_str(params, "file_id")
    if not file_id:
        raise bad_request("file_id is empty")
    stored = state.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.as_file()
