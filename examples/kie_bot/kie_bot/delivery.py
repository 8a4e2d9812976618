"""The Telegram side of the state machine: progress messages and media delivery.

Results are downloaded by the bot and uploaded to Telegram (instead of passing KIE's URL
to Telegram, whose URL fetch is limited to 5-20 MB and fails silently on slow hosts);
anything larger than the upload limit is sent as a link.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx
from telegram import Bot, InputFile
from telegram.error import BadRequest, TelegramError

__all__ = ["TelegramMessenger"]

log = logging.getLogger(__name__)

_EXTENSIONS = {"photo": "png", "video": "mp4", "audio": "mp3"}


class TooLarge(Exception):
    """The media is larger than the upload limit."""


class TelegramMessenger:
    """:class:`kie_bot.generations.Messenger` over a PTB :class:`telegram.Bot`.

    Args:
        bot (:class:`telegram.Bot`): The application's bot.
        http (:class:`httpx.AsyncClient`): For downloading results.
        max_bytes (:obj:`int`): Upload limit; larger results are sent as a link.

    .. versionadded:: 0.1.0
    """

    def __init__(self, bot: Bot, http: httpx.AsyncClient, max_bytes: int) -> None:
        self.bot = bot
        self.http = http
        self.max_bytes = max_bytes

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
            content = await self._download(url)
        except (TooLarge, httpx.HTTPError) as exc:
            log.info("sending a link instead of the media: %s", type(exc).__name__)
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

    async def _download(self, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with self.http.stream("GET", url) as response:
            response.raise_for_status()
            declared = int(response.headers.get("content-length") or 0)
            if declared > self.max_bytes:
                raise TooLarge
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge
                chunks.append(chunk)
        return b"".join(chunks)
