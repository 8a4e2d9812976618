"""Methods answered from a table: required parameters checked, then a schema-complete result.

Each row names the parameters Telegram requires (python-telegram-bot's required arguments of
the same method) and the kind of result (a builder in :mod:`._results`). Rows cover the methods
whose effect the fake does not model beyond their answer (stickers, gifts, stories, business
accounts, forum topics, chat settings...); a method with a dedicated handler in
:data:`._methods.METHODS` overrides its row. Missing parameters get the real server's wording
(telegram-bot-api ``Client.cpp``): ``chat_id is empty``, ``invalid user_id specified``,
``message text is empty``, otherwise ``parameter "NAME" is required``.
"""

from __future__ import annotations

from typing import Any

from safe_polling.testing._core import Core
from safe_polling.testing._messages import chat_id_of
from safe_polling.testing._params import bad_request, get_int, present
from safe_polling.testing._results import RESULTS
from safe_polling.testing._state import BotState

__all__ = ["TABLE", "answer_from_table", "require"]

# method -> (required parameters, result kind in RESULTS)
TABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "addStickerToSet": (("user_id", "name", "sticker"), "true"),
    "answerGuestQuery": (("guest_query_id", "result"), "sent_guest_message"),
    "answerInlineQuery": (("inline_query_id", "results"), "true"),
    "answerShippingQuery": (("shipping_query_id", "ok"), "true"),
    "answerWebAppQuery": (("web_app_query_id", "result"), "sent_web_app_message"),
    "approveChatJoinRequest": (("chat_id", "user_id"), "true"),
    "approveSuggestedPost": (("chat_id", "message_id"), "true"),
    "banChatMember": (("chat_id", "user_id"), "true"),
    "banChatSenderChat": (("chat_id", "sender_chat_id"), "true"),
    "closeForumTopic": (("chat_id", "message_thread_id"), "true"),
    "closeGeneralForumTopic": (("chat_id",), "true"),
    "convertGiftToStars": (("business_connection_id", "owned_gift_id"), "true"),
    "createChatInviteLink": (("chat_id",), "invite_link"),
    "createChatSubscriptionInviteLink": (
        ("chat_id", "subscription_period", "subscription_price"),
        "invite_link",
    ),
    "createForumTopic": (("chat_id", "name"), "forum_topic"),
    "createInvoiceLink": (
        ("title", "description", "payload", "currency", "prices"),
        "invoice_link",
    ),
    "createNewStickerSet": (("user_id", "name", "title", "stickers"), "true"),
    "declineChatJoinRequest": (("chat_id", "user_id"), "true"),
    "declineSuggestedPost": (("chat_id", "message_id"), "true"),
    "deleteAllMessageReactions": (("chat_id",), "true"),
    "deleteBusinessMessages": (("business_connection_id", "message_ids"), "true"),
    "deleteChatPhoto": (("chat_id",), "true"),
    "deleteChatStickerSet": (("chat_id",), "true"),
    "deleteForumTopic": (("chat_id", "message_thread_id"), "true"),
    "deleteMessageReaction": (("chat_id", "message_id"), "true"),
    "deleteMessages": (("chat_id", "message_ids"), "true"),
    "deleteStickerFromSet": (("sticker",), "true"),
    "deleteStickerSet": (("name",), "true"),
    "deleteStory": (("business_connection_id", "story_id"), "true"),
    "editChatInviteLink": (("chat_id", "invite_link"), "invite_link"),
    "editChatSubscriptionInviteLink": (("chat_id", "invite_link"), "invite_link"),
    "editForumTopic": (("chat_id", "message_thread_id"), "true"),
    "editGeneralForumTopic": (("chat_id", "name"), "true"),
    "editStory": (("business_connection_id", "story_id", "content"), "story"),
    "editUserStarSubscription": (("user_id", "telegram_payment_charge_id", "is_canceled"), "true"),
    "exportChatInviteLink": (("chat_id",), "invite_link_url"),
    "getAvailableGifts": ((), "gifts"),
    "getBusinessAccountGifts": (("business_connection_id",), "owned_gifts"),
    "getBusinessAccountStarBalance": (("business_connection_id",), "star_amount"),
    "getBusinessConnection": (("business_connection_id",), "business_connection"),
    "getChatGifts": (("chat_id",), "owned_gifts"),
    "getChatMenuButton": ((), "menu_button"),
    "getCustomEmojiStickers": (("custom_emoji_ids",), "custom_emoji_stickers"),
    "getForumTopicIconStickers": ((), "empty_list"),
    "getGameHighScores": (("user_id",), "empty_list"),
    "getManagedBotAccessSettings": (("user_id",), "bot_access_settings"),
    "getManagedBotToken": (("user_id",), "bot_token"),
    "getMyDefaultAdministratorRights": ((), "administrator_rights"),
    "getMyDescription": ((), "description"),
    "getMyName": ((), "name"),
    "getMyShortDescription": ((), "short_description"),
    "getMyStarBalance": ((), "star_amount"),
    "getStarTransactions": ((), "star_transactions"),
    "getStickerSet": (("name",), "sticker_set"),
    "getUserChatBoosts": (("chat_id", "user_id"), "user_chat_boosts"),
    "getUserGifts": (("user_id",), "owned_gifts"),
    "getUserPersonalChatMessages": (("user_id", "limit"), "empty_list"),
    "getUserProfileAudios": (("user_id",), "user_profile_audios"),
    "getUserProfilePhotos": (("user_id",), "user_profile_photos"),
    "giftPremiumSubscription": (("user_id", "month_count", "star_count"), "true"),
    "hideGeneralForumTopic": (("chat_id",), "true"),
    "leaveChat": (("chat_id",), "true"),
    "logOut": ((), "true"),
    "pinChatMessage": (("chat_id", "message_id"), "true"),
    "postStory": (("business_connection_id", "content", "active_period"), "story"),
    "promoteChatMember": (("chat_id", "user_id"), "true"),
    "readBusinessMessage": (("business_connection_id", "chat_id", "message_id"), "true"),
    "removeBusinessAccountProfilePhoto": (("business_connection_id",), "true"),
    "removeChatVerification": (("chat_id",), "true"),
    "removeMyProfilePhoto": ((), "true"),
    "removeUserVerification": (("user_id",), "true"),
    "reopenForumTopic": (("chat_id", "message_thread_id"), "true"),
    "reopenGeneralForumTopic": (("chat_id",), "true"),
    "replaceManagedBotToken": (("user_id",), "bot_token"),
    "replaceStickerInSet": (("user_id", "name", "old_sticker", "sticker"), "true"),
    "repostStory": (
        ("business_connection_id", "from_chat_id", "from_story_id", "active_period"),
        "story",
    ),
    "restrictChatMember": (("chat_id", "user_id", "permissions"), "true"),
    "revokeChatInviteLink": (("chat_id", "invite_link"), "revoked_invite_link"),
    "savePreparedInlineMessage": (("user_id", "result"), "prepared_inline_message"),
    "savePreparedKeyboardButton": (("user_id", "button"), "prepared_keyboard_button"),
    "sendGift": (("gift_id",), "true"),
    "sendMessageDraft": (("chat_id", "draft_id"), "true"),
    "setBusinessAccountBio": (("business_connection_id",), "true"),
    "setBusinessAccountGiftSettings": (
        ("business_connection_id", "show_gift_button", "accepted_gift_types"),
        "true",
    ),
    "setBusinessAccountName": (("business_connection_id", "first_name"), "true"),
    "setBusinessAccountProfilePhoto": (("business_connection_id", "photo"), "true"),
    "setBusinessAccountUsername": (("business_connection_id",), "true"),
    "setChatAdministratorCustomTitle": (("chat_id", "user_id", "custom_title"), "true"),
    "setChatDescription": (("chat_id",), "true"),
    "setChatMemberTag": (("chat_id", "user_id"), "true"),
    "setChatMenuButton": ((), "true"),
    "setChatPermissions": (("chat_id", "permissions"), "true"),
    "setChatPhoto": (("chat_id", "photo"), "true"),
    "setChatStickerSet": (("chat_id", "sticker_set_name"), "true"),
    "setChatTitle": (("chat_id", "title"), "true"),
    "setCustomEmojiStickerSetThumbnail": (("name",), "true"),
    "setManagedBotAccessSettings": (("user_id", "is_access_restricted"), "true"),
    "setMessageReaction": (("chat_id", "message_id"), "true"),
    "setMyDefaultAdministratorRights": ((), "true"),
    "setMyDescription": ((), "true"),
    "setMyName": ((), "true"),
    "setMyProfilePhoto": (("photo",), "true"),
    "setMyShortDescription": ((), "true"),
    "setPassportDataErrors": (("user_id", "errors"), "true"),
    "setStickerEmojiList": (("sticker", "emoji_list"), "true"),
    "setStickerKeywords": (("sticker",), "true"),
    "setStickerMaskPosition": (("sticker",), "true"),
    "setStickerPositionInSet": (("sticker", "position"), "true"),
    "setStickerSetThumbnail": (("name", "user_id", "format"), "true"),
    "setStickerSetTitle": (("name", "title"), "true"),
    "setUserEmojiStatus": (("user_id",), "true"),
    "transferBusinessAccountStars": (("business_connection_id", "star_count"), "true"),
    "transferGift": (("business_connection_id", "owned_gift_id", "new_owner_chat_id"), "true"),
    "unbanChatMember": (("chat_id", "user_id"), "true"),
    "unbanChatSenderChat": (("chat_id", "sender_chat_id"), "true"),
    "unhideGeneralForumTopic": (("chat_id",), "true"),
    "unpinAllChatMessages": (("chat_id",), "true"),
    "unpinAllForumTopicMessages": (("chat_id", "message_thread_id"), "true"),
    "unpinAllGeneralForumTopicMessages": (("chat_id",), "true"),
    "unpinChatMessage": (("chat_id",), "true"),
    "upgradeGift": (("business_connection_id", "owned_gift_id"), "true"),
    "uploadStickerFile": (("user_id", "sticker", "sticker_format"), "file"),
    "verifyChat": (("chat_id",), "true"),
    "verifyUser": (("user_id",), "true"),
}


def require(params: dict[str, Any], names: tuple[str, ...]) -> None:
    """Check that every parameter in ``names`` was given, with Telegram's error for the first
    missing one.

    Raises:
        ApiError: 400 with the real server's wording for that parameter.
    """
    for name in names:
        if name == "chat_id":
            chat_id_of(params)
        elif name == "user_id":
            if get_int(params, name) <= 0:
                raise bad_request("invalid user_id specified")
        elif not present(params, name):
            raise bad_request(_MISSING.get(name, f'parameter "{name}" is required'))


# Parameters whose absence the real server words in its own way.
_MISSING = {
    "sender_chat_id": "sender_chat_id is empty",
    "text": "message text is empty",
    "latitude": "latitude is empty",
    "longitude": "longitude is empty",
    "file_id": "file_id is empty",
}


async def answer_from_table(
    core: Core, state: BotState, params: dict[str, Any], method: str
) -> Any:
    """Check the row's required parameters, then build its result."""
    required, kind = TABLE[method]
    require(params, required)
    return RESULTS[kind](state, params)
