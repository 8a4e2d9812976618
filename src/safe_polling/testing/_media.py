"""Media methods (sendPhoto, sendVideo, sendAudio, sendDocument, sendAnimation, sendVoice,
sendVideoNote, sendSticker, sendLivePhoto, sendMediaGroup, editMessageMedia) and getFile."""

from __future__ import annotations

import itertools
import mimetypes
from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import (
    apply_edit,
    chat_id_of,
    formatted,
    inline_markup,
    send_bot_message,
)
from safe_polling.testing._params import Upload, bad_request, get_int, get_json, get_str, present
from safe_polling.testing._state import BotState, StoredFile

__all__ = [
    "KINDS",
    "MAX_CAPTION",
    "MAX_GROUP",
    "edit_message_media",
    "get_file",
    "send_media",
    "send_media_group",
]

MAX_CAPTION = 1024
# method -> (field, folder on the file server, default suffix)
KINDS = {
    "sendPhoto": ("photo", "photos", ".jpg"),
    "sendVideo": ("video", "videos", ".mp4"),
    "sendAudio": ("audio", "music", ".mp3"),
    "sendDocument": ("document", "documents", ""),
    "sendAnimation": ("animation", "animations", ".mp4"),
    "sendVoice": ("voice", "voice", ".ogg"),
    "sendVideoNote": ("video_note", "video_notes", ".mp4"),
    "sendSticker": ("sticker", "stickers", ".webp"),
    "sendLivePhoto": ("live_photo", "live_photos", ".mp4"),
}
# InputMedia type (sendMediaGroup, editMessageMedia) -> the method sending it alone
_BY_INPUT_TYPE = {
    "photo": "sendPhoto",
    "video": "sendVideo",
    "audio": "sendAudio",
    "document": "sendDocument",
    "animation": "sendAnimation",
}
MAX_GROUP = 10
_group_numbers = itertools.count(13_000_000_000_000_000)


def _resolve_file(
    state: BotState, params: dict[str, Any], field: str
) -> tuple[StoredFile, Upload | None]:
    """The stored file a media parameter names: an upload, a known file_id or a URL."""
    value = params.get(field)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    _, folder, suffix = next(k for k in KINDS.values() if k[0] == field)
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
    if field in {"video", "animation", "live_photo"}:
        width, height = get_int(params, "width", 640), get_int(params, "height", 360)
        return {**base, "width": width, "height": height, "duration": duration}
    if field == "video_note":
        return {**base, "length": get_int(params, "length", 240), "duration": duration}
    if field == "voice":
        return {**base, "duration": duration}
    if field == "sticker":
        return {
            **base,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            **({"emoji": get_str(params, "emoji")} if present(params, "emoji") else {}),
        }
    if upload and upload.filename:
        base["file_name"] = upload.filename
    if field == "audio":
        extra = {k: get_str(params, k) for k in ("performer", "title") if present(params, k)}
        return {**base, "duration": duration, **extra}
    return base


async def send_media(core: Core, state: BotState, params: dict[str, Any], method: str) -> Any:
    """Send a photo, video, audio or document; uploaded bytes become downloadable."""
    field = KINDS[method][0]
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


def _group_item(params: dict[str, Any], item: Any) -> tuple[str, dict[str, Any]]:
    """The method and the parameters of one InputMedia, as if it were sent alone."""
    if not isinstance(item, dict) or item.get("type") not in _BY_INPUT_TYPE:
        raise bad_request("can't parse InputMedia JSON object")
    method = _BY_INPUT_TYPE[item["type"]]
    field = KINDS[method][0]
    fields = {k: v for k, v in item.items() if k not in {"type", "media"}}
    return method, {**params, **fields, field: item.get("media"), "caption": item.get("caption")}


async def send_media_group(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendMediaGroup``: 2-10 items, one message each, sharing a ``media_group_id``."""
    chat_id_of(params)
    items = get_json(params, "media", "media")
    if not isinstance(items, list) or not 2 <= len(items) <= MAX_GROUP:
        raise bad_request("media must include 2-10 items")
    prepared = [_group_item(params, item) for item in items]
    group_id = str(next(_group_numbers))
    messages = []
    for method, item_params in prepared:
        field = KINDS[method][0]
        stored, upload = _resolve_file(state, item_params, field)
        caption, entities = formatted(item_params, "caption", MAX_CAPTION)
        messages.append(
            send_bot_message(
                core,
                state,
                "sendMediaGroup",
                item_params,
                media_group_id=group_id,
                caption=caption or None,
                caption_entities=entities,
                **{field: _media_object(field, stored, upload, item_params)},
            )
        )
    return messages


async def edit_message_media(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageMedia``: replaces the media (and caption) of a bot message."""
    method, item_params = _group_item(params, get_json(params, "media", "media"))
    field = KINDS[method][0]
    stored, upload = _resolve_file(state, item_params, field)
    caption, entities = formatted(item_params, "caption", MAX_CAPTION)
    old_fields = {kind[0] for kind in KINDS.values()}
    changes: dict[str, Any] = dict.fromkeys(old_fields)
    changes.update(
        {
            field: _media_object(field, stored, upload, item_params),
            "caption": caption or None,
            "caption_entities": entities,
            "reply_markup": inline_markup(params),
        }
    )
    return apply_edit(core, state, "editMessageMedia", params, changes)


async def get_file(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``getFile``: the File with its relative ``file_path`` for the file server."""
    file_id = get_str(params, "file_id")
    if not file_id:
        raise bad_request("file_id is empty")
    stored = state.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.as_file()
