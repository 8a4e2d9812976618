"""The test side of :class:`FakeBotAPI` that makes things happen: users write, press, pay,
vote, join, block; chats are declared; time moves on.

Every ``inject_*`` method returns the Update it queued (without ``update_id`` when the bot's
``allowed_updates`` exclude its type, as Telegram then never creates it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from safe_polling.testing import _events, _inject, _world
from safe_polling.testing._flood import FloodLimits

if TYPE_CHECKING:
    from safe_polling.testing._core import Core
    from safe_polling.testing._state import BotState

__all__ = ["Scenario"]


class Scenario:
    """Injection and world-building methods; mixed into :class:`FakeBotAPI`."""

    _core: Core

    def _state(self, token: str | None) -> BotState:
        return self._core.state(token or self._core.token)

    # ---- the world -------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        username: str | None = None,
        is_bot: bool = False,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Declare a user whose private chat with the bot exists (as if they had pressed Start).

        Returns:
            :obj:`dict`: The User object.
        """
        return _inject.sender(self._state(token), user_id, first_name, username, is_bot=is_bot)

    def add_group(
        self,
        chat_id: int,
        title: str | None = None,
        *,
        members: dict[int, str] | None = None,
        kind: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Declare a group, supergroup (id ``-100...``) or channel the bot is an admin of.

        Args:
            chat_id (:obj:`int`): A negative id.
            title (:obj:`str`, optional): The chat title.
            members (:obj:`dict`, optional): user id -> status (``"member"``, ``"administrator"``,
                ``"creator"``...).
            kind (:obj:`str`, optional): ``"group"``, ``"supergroup"`` or ``"channel"``; by
                default from the id.
            token (:obj:`str`, optional): The bot; defaults to :attr:`token`.

        Returns:
            :obj:`dict`: The Chat object.
        """
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        state = self._state(token)
        for user_id in members or {}:
            _inject.sender(state, user_id)
        return _world.add_group(state, chat_id, title, members, kind=kind).chat

    def block_bot(self, user_id: int, *, token: str | None = None) -> dict[str, Any]:
        """The user blocks the bot: sends to them now fail with 403; a ``my_chat_member``
        update (status ``kicked``) is queued."""
        state = self._state(token)
        return _events.member_change(state, user_id, state.bot_id, "kicked", user_id)

    def unblock_bot(self, user_id: int, *, token: str | None = None) -> dict[str, Any]:
        """The user unblocks the bot (``my_chat_member`` with status ``member``)."""
        state = self._state(token)
        return _events.member_change(state, user_id, state.bot_id, "member", user_id)

    def set_member_status(
        self,
        chat_id: int,
        user_id: int,
        status: str,
        *,
        by: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """A member joins (``"member"``), leaves (``"left"``), is banned (``"kicked"``)...

        With ``user_id`` the bot's own id this is a ``my_chat_member`` update (the bot added to
        or removed from the group); otherwise ``chat_member`` (delivered only when the bot asked
        for it in ``allowed_updates``, as on Telegram).

        Raises:
            ValueError: unknown status.
            LookupError: the chat was never declared.
        """
        state = self._state(token)
        if user_id != state.bot_id:
            _inject.sender(state, user_id)
        return _events.member_change(state, chat_id, user_id, status, by)

    def bot_id(self, token: str | None = None) -> int:
        """The bot's user id (the number before ``:`` in its token)."""
        return self._state(token).bot_id

    def set_flood_control(self, limits: FloodLimits | None = FloodLimits()) -> None:  # noqa: B008
        """Turn Telegram's send limits on (defaults: :class:`FloodLimits`) or off (None).

        Past a limit a send is answered ``429 Too Many Requests: retry after N`` with
        ``parameters.retry_after``, as by Telegram. For a one-off 429 (on any method, getUpdates
        included) use :meth:`fail_next`.
        """
        self._core.set_flood_limits(limits)

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward: queries expire, flood-control windows pass.

        Raises:
            ValueError: ``seconds`` is negative.
        """
        self._core.clock.advance(seconds)

    # ---- updates ---------------------------------------------------------------------------

    def inject_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "Test",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user; a leading ``/command`` gets its entity.

        Args:
            user_id (:obj:`int`): The sender; also the chat unless ``chat_id`` is given.
            text (:obj:`str`): Message text, e.g. ``"/start"`` or ``"/start@fake_test_bot"``.
            chat_id (:obj:`int`, optional): A group chat (negative id) instead of the private one.
            language_code (:obj:`str`, optional): The sender's language. Defaults to ``"en"``.
            first_name (:obj:`str`, optional): The sender's first name.
            username (:obj:`str`, optional): The sender's username.
            reply_to_message_id (:obj:`int`, optional): A message of that chat it replies to.
            token (:obj:`str`, optional): The bot; defaults to :attr:`token`.

        Returns:
            :obj:`dict`: The Update (no ``update_id`` if ``allowed_updates`` excluded it).
        """
        return _inject.message(
            self._state(token),
            user_id,
            text,
            chat_id=chat_id,
            language_code=language_code,
            first_name=first_name,
            username=username,
            reply_to_message_id=reply_to_message_id,
        )

    def inject_edited_message(
        self, chat_id: int, message_id: int, text: str, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``edited_message``: a user edited the text of a message they sent."""
        return _inject.edited_message(self._state(token), chat_id, message_id, text)

    def inject_channel_post(
        self,
        chat_id: int,
        text: str,
        *,
        edit_message_id: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue ``channel_post`` (or ``edited_channel_post`` with ``edit_message_id``)."""
        return _inject.channel_post(
            self._state(token), chat_id, text, edit_message_id=edit_message_id
        )

    def inject_content(
        self,
        user_id: int,
        fields: dict[str, Any],
        *,
        chat_id: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a message with any content fields, e.g. ``{"sticker": {...}}``."""
        return _inject.content(self._state(token), user_id, fields, chat_id)

    def inject_location(
        self, user_id: int, latitude: float, longitude: float, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue a location shared by a user."""
        location = {"latitude": latitude, "longitude": longitude}
        return _inject.content(self._state(token), user_id, {"location": location})

    def inject_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str = "Test",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a contact shared by a user (their own: ``user_id`` is set)."""
        contact = {"phone_number": phone_number, "first_name": first_name, "user_id": user_id}
        return _inject.content(self._state(token), user_id, {"contact": contact})

    def inject_photo(
        self, user_id: int, data: bytes, caption: str | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue a photo from a user; the bot can download ``data`` through getFile."""
        return _inject.photo(self._state(token), user_id, data, caption)

    def inject_callback_query(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        chat_id: int | None = None,
        require_button: bool = True,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a press on a button a bot message has now (the newest in the chat by default).

        Args:
            user_id (:obj:`int`): Who presses.
            data (:obj:`str`): The button's ``callback_data``.
            message_id (:obj:`int`, optional): The bot message; the newest one by default.
            chat_id (:obj:`int`, optional): Its chat; ``user_id``'s private chat by default.
            require_button (:obj:`bool`, optional): :obj:`False` presses ``data`` even if the
                message has no such button, to stand for a keyboard an older release of the bot
                sent with data the current one no longer knows. Defaults to :obj:`True`.
            token (:obj:`str`, optional): The bot; defaults to :attr:`token`.

        Raises:
            LookupError: The bot has no such message in the chat, or the message has no button
                with this ``callback_data`` (any more).
        """
        return _inject.callback_query(
            self._state(token),
            user_id,
            data,
            message_id,
            chat_id,
            require_button=require_button,
        )

    def inject_inline_query(
        self, user_id: int, query: str, *, offset: str = "", token: str | None = None
    ) -> dict[str, Any]:
        """Queue an inline query (answer it with answerInlineQuery)."""
        return _events.inline_query(self._state(token), user_id, query, offset)

    def inject_chosen_inline_result(
        self, user_id: int, result_id: str, query: str, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``chosen_inline_result``."""
        return _events.chosen_inline_result(self._state(token), user_id, result_id, query)

    def inject_shipping_query(
        self,
        user_id: int,
        payload: str,
        *,
        address: dict[str, str] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a shipping query (answer it with answerShippingQuery within 10 s)."""
        return _events.shipping_query(self._state(token), user_id, payload, address)

    def inject_pre_checkout_query(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        currency: str = "XTR",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a pre-checkout query (answer it with answerPreCheckoutQuery within 10 s)."""
        return _events.pre_checkout_query(
            self._state(token), user_id, payload, total_amount, currency
        )

    def inject_successful_payment(
        self,
        user_id: int,
        payload: str,
        total_amount: int,
        telegram_payment_charge_id: str,
        currency: str = "XTR",
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue a ``successful_payment`` message; the charge becomes refundable."""
        return _events.successful_payment(
            self._state(token),
            user_id,
            payload,
            total_amount,
            telegram_payment_charge_id,
            currency,
        )

    def inject_poll_answer(
        self, user_id: int, poll_id: str, option_ids: list[int], *, token: str | None = None
    ) -> dict[str, Any]:
        """A user votes in a poll the bot sent: ``poll_answer`` (or ``poll`` when anonymous).

        Raises:
            LookupError: unknown or closed poll, or a choice it does not have.
        """
        return _events.poll_answer(self._state(token), user_id, poll_id, option_ids)

    def inject_chat_join_request(
        self, chat_id: int, user_id: int, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``chat_join_request`` (approve or decline it with the Bot API methods)."""
        return _events.chat_join_request(self._state(token), chat_id, user_id)

    def inject_message_reaction(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        emoji: list[str],
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue ``message_reaction`` (only delivered when asked for in ``allowed_updates``)."""
        return _events.message_reaction(self._state(token), chat_id, message_id, user_id, emoji)

    def inject_message_reaction_count(
        self, chat_id: int, message_id: int, counts: dict[str, int], *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``message_reaction_count`` (anonymous counts, e.g. on a channel post)."""
        return _events.message_reaction_count(self._state(token), chat_id, message_id, counts)

    def inject_chat_boost(
        self, chat_id: int, user_id: int, *, removed: bool = False, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``chat_boost`` (or ``removed_chat_boost``)."""
        return _events.chat_boost(self._state(token), chat_id, user_id, removed=removed)

    def inject_business_connection(
        self, user_id: int, *, enabled: bool = True, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``business_connection``; its id is ``"biz<user_id>"``."""
        return _events.business_connection(self._state(token), user_id, enabled=enabled)

    def inject_business_message(
        self,
        user_id: int,
        text: str,
        *,
        edited: bool = False,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Queue ``business_message`` (or ``edited_business_message``)."""
        state = self._state(token)
        return _events.business_message(state, user_id, text, f"biz{user_id}", edited=edited)

    def inject_deleted_business_messages(
        self, chat_id: int, message_ids: list[int], *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``deleted_business_messages``."""
        state = self._state(token)
        return _events.deleted_business_messages(state, chat_id, message_ids, f"biz{chat_id}")

    def inject_purchased_paid_media(
        self, user_id: int, payload: str, *, token: str | None = None
    ) -> dict[str, Any]:
        """Queue ``purchased_paid_media``."""
        return _events.purchased_paid_media(self._state(token), user_id, payload)

    def inject_raw(self, update: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        """Queue any update dict (``update_id`` is added unless present), checked first by
        python-telegram-bot's own ``Update.de_json``.

        Raises:
            ValueError: no single known update type, or PTB cannot parse it.
        """
        return _inject.raw(self._state(token), update)
