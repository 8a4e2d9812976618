"""Message methods: send, edit, delete, chat actions, and the helpers they share."""

from __future__ import annotations

from typing import Any

from safe_polling.testing import _format, _objects, _world
from safe_polling.testing._core import Core
from safe_polling.testing._params import (
    bad_request,
    get_bool,
    get_int,
    get_json,
    get_str,
    present,
    recordable,
)
from safe_polling.testing._state import BotState, StoredMessage

__all__ = [
    "CHAT_ACTIONS",
    "MAX_TEXT",
    "NOT_MODIFIED",
    "answer_callback_query",
    "apply_edit",
    "chat_id_of",
    "delete_message",
    "edit_message_caption",
    "edit_message_reply_markup",
    "edit_message_text",
    "editable",
    "formatted",
    "inline_markup",
    "quote_of",
    "reply_to",
    "send_bot_message",
    "send_chat_action",
    "send_message",
]

MAX_TEXT = 4096
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def chat_id_of(params: dict[str, Any]) -> int:
    """The target chat id.

    Raises:
        ApiError: ``chat_id is empty`` when missing, ``chat not found`` for @names and junk.
    """
    if not present(params, "chat_id"):
        raise bad_request("chat_id is empty")
    text = get_str(params, "chat_id").strip()
    if text.lstrip("-").isdigit() and int(text) != 0:
        return int(text)
    raise bad_request("chat not found")


def inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    """The inline keyboard to echo in the message (other keyboards are not part of it).

    Raises:
        ApiError: for unparsable markup, a malformed keyboard or too long callback_data.
    """
    markup = get_json(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for button in (b for row in rows for b in row):
        _check_button(button)
    return {"inline_keyboard": rows}


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text must be a String")
    if set(button) == {"text"}:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")


def formatted(params: dict[str, Any], field: str, limit: int) -> tuple[str, Any]:
    """Text (or caption) after ``parse_mode``, with its entities; length-checked."""
    raw = get_str(params, field)
    text, entities = _format.parse(raw, get_str(params, "parse_mode"))
    if entities is None:
        given = get_json(
            params, f"{'entities' if field == 'text' else 'caption_entities'}", "entities"
        )
        entities = given if isinstance(given, list) and given else None
    if _objects.utf16_len(text) > limit:
        raise bad_request(
            "message is too long" if field == "text" else "message caption is too long"
        )
    return text, entities


def reply_to(state: BotState, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
    """The replied-to message (``reply_parameters`` or the older ``reply_to_message_id``)."""
    reply = get_json(params, "reply_parameters", "reply parameters")
    if isinstance(reply, dict):
        message_id = int(reply.get("message_id", 0))
        allow = bool(reply.get("allow_sending_without_reply"))
    else:
        message_id = get_int(params, "reply_to_message_id")
        allow = get_bool(params, "allow_sending_without_reply")
    if not message_id:
        return None
    stored = state.messages.get((chat_id, message_id))
    if stored is None or stored.deleted:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return stored.message


def quote_of(replied: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any] | None:
    """The TextQuote of ``reply_parameters.quote``, which must be part of the replied text.

    Raises:
        ApiError: ``QUOTE_TEXT_INVALID`` when the quote is not in the replied message.
    """
    reply = get_json(params, "reply_parameters", "reply parameters")
    quote = reply.get("quote") if isinstance(reply, dict) else None
    if replied is None or not quote:
        return None
    text = str(replied.get("text", replied.get("caption", "")))
    position = text.find(str(quote))
    if position < 0:
        raise bad_request("QUOTE_TEXT_INVALID")
    utf16_position = _objects.utf16_len(text[:position])
    return {"text": str(quote), "position": utf16_position, "is_manual": True}


def send_bot_message(
    core: Core, state: BotState, method: str, params: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """Create, store and record a message from the bot; returns the Message."""
    chat_id = chat_id_of(params)
    # Parameters are parsed before the chat is looked up, as on the real server.
    markup = inline_markup(params)
    _world.check_writable(state, chat_id)
    replied = reply_to(state, chat_id, params)
    quote = quote_of(replied, params)
    if state.flood is not None:
        state.flood.take(chat_id, state.clock.now())
    msg = _objects.message(
        state.new_message_id(chat_id),
        state.chat_obj(chat_id),
        _objects.bot_user(state.bot_id, state.username),
        reply_to_message=replied,
        quote=quote,
        reply_markup=markup,
        **fields,
    )
    state.store_message(msg, by_bot=True)
    core.record_sent(state, method, chat_id, recordable(params), msg, msg)
    return msg


async def send_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendMessage``."""
    chat_id_of(params)
    if not get_str(params, "text").strip():
        raise bad_request("message text is empty")
    text, entities = formatted(params, "text", MAX_TEXT)
    return send_bot_message(core, state, "sendMessage", params, text=text, entities=entities)


def editable(state: BotState, params: dict[str, Any]) -> StoredMessage:
    chat_id = chat_id_of(params)
    stored = state.messages.get((chat_id, get_int(params, "message_id")))
    if stored is None or stored.deleted:
        raise bad_request("message to edit not found")
    if not stored.by_bot:
        raise bad_request("message can't be edited")
    return stored


def apply_edit(
    core: Core, state: BotState, method: str, params: dict[str, Any], changes: dict[str, Any]
) -> Any:
    """Edit a message (or an inline message: result True), refusing no-op edits."""
    if present(params, "inline_message_id"):
        core.record_sent(state, method, None, recordable(params), None, True)
        return True
    stored = editable(state, params)
    old = stored.message
    if all(old.get(k) == v for k, v in changes.items()):
        raise bad_request(NOT_MODIFIED)
    new = {k: v for k, v in old.items() if k not in changes}
    new.update({k: v for k, v in changes.items() if v is not None})
    new["edit_date"] = _objects.now()
    stored.message = new
    core.record_sent(state, method, int(new["chat"]["id"]), recordable(params), new, new)
    return new


async def edit_message_text(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageText`` (omitting reply_markup removes the inline keyboard, as for real)."""
    if not get_str(params, "text").strip():
        raise bad_request("message text is empty")
    text, entities = formatted(params, "text", MAX_TEXT)
    changes = {"text": text, "entities": entities, "reply_markup": inline_markup(params)}
    return apply_edit(core, state, "editMessageText", params, changes)


async def edit_message_caption(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageCaption``."""
    caption, entities = formatted(params, "caption", 1024)
    changes = {
        "caption": caption or None,
        "caption_entities": entities,
        "reply_markup": inline_markup(params),
    }
    return apply_edit(core, state, "editMessageCaption", params, changes)


async def edit_message_reply_markup(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``editMessageReplyMarkup``: no reply_markup removes the keyboard."""
    changes = {"reply_markup": inline_markup(params)}
    return apply_edit(core, state, "editMessageReplyMarkup", params, changes)


async def delete_message(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``deleteMessage``."""
    chat_id = chat_id_of(params)
    stored = state.messages.get((chat_id, get_int(params, "message_id")))
    if stored is None or stored.deleted:
        raise bad_request("message to delete not found")
    stored.deleted = True
    core.record_sent(state, "deleteMessage", chat_id, recordable(params), None, True)
    return True


async def send_chat_action(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``sendChatAction``."""
    chat_id = chat_id_of(params)
    if get_str(params, "action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    core.record_sent(state, "sendChatAction", chat_id, recordable(params), None, True)
    return True


async def answer_callback_query(core: Core, state: BotState, params: dict[str, Any]) -> Any:
    """``answerCallbackQuery``: each query can be answered once."""
    user_id = state.queries.take(
        "callback", get_str(params, "callback_query_id"), state.clock.now()
    )
    if user_id is None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    core.record_sent(state, "answerCallbackQuery", user_id, recordable(params), None, True)
    return True
