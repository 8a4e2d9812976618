"""The Telegram side of the state machine: progress messages and media delivery.

Results are downloaded by the bot and uploaded to Telegram (instead of passing KIE's URL
to Telegram, whose URL fetch is limited to 5-20 MB and fails silently on slow hosts);
anything larger than the upload limit, or not allowed by :mod:`kie_bot.downloads` (not
https, not a public address), is sent as a link.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx
from telegram import Bot, InputFile
from telegram.error import BadRequest, TelegramError

from kie_bot.downloads import DownloadPolicy, download

__all__ = ["TelegramMessenger"]

log = logging.getLogger(__name__)

_EXTENSIONS = {"photo": "png", "video": "mp4", "audio": "mp3"}


class TelegramMessenger:
    """:class:`kie_bot.generations.Messenger` over a PTB :class:`telegram.Bot`.

    Args:
        bot (:class:`telegram.Bot`): The application's bot.
        http (:class:`httpx.AsyncClient`): For downloading results.
        policy (:class:`kie_bot.downloads.DownloadPolicy`): What a download may do; the
            upload limit is its ``max_bytes``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, bot: Bot, http: httpx.AsyncClient, policy: DownloadPolicy) -> None:
        self.bot = bot
        self.http = http
        self.policy = policy

    async def send_text(self, chat_id: int, text: str) -> int | None:
        """Send *text*; return the message id, :obj:`None` when Telegram refused it."""
        try:
            message = await self.bot.send_message(chat_id, text)
        except TelegramError as exc:  # blocked by the user, chat gone, flood...
            log.warning("could not message chat %s: %s", chat_id, exc)
            return None
        return message.message_id

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> bool:
        """Edit a message; :obj:`False` when it can no longer be edited."""
        try:
            await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
        except BadRequest as exc:
            return "not modified" in str(exc).lower()
        except TelegramError as exc:
            log.warning("could not edit message in chat %s: %s", chat_id, exc)
            return False
        return True

    async def send_media(self, chat_id: int, media: str, url: str, caption: str) -> bool:
        """Download *url* and send it as *media*; :obj:`False` to have a link sent instead."""
        try:
            content = await download(self.http, url, self.policy)
        except Exception as exc:
            log.info("sending a link instead of the media: %s (%s)", type(exc).__name__, exc)
            return False
        name = urlsplit(url).path.rsplit("/", 1)[-1] or f"result.{_EXTENSIONS[media]}"
        file = InputFile(content, filename=name)
        try:
            if media == "photo":
                await self.bot.send_photo(chat_id, file, caption=caption)
            elif media == "video":
                await self.bot.send_video(chat_id, file, caption=caption)
            else:
                await self.bot.send_audio(chat_id, file, caption=caption)
        except TelegramError as exc:
            log.warning("Telegram refused the %s: %s", media, exc)
            return False
        return True
