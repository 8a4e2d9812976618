"""Settings from the environment, validated once at start-up with clear errors.

Required: ``TELEGRAM_BOT_TOKEN`` (or ``BOT_TOKEN``) and ``KIE_API_KEY``. Everything else has
a default; the library's own variables (lease, preflight) are read by :mod:`safe_polling`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kie_bot.kie.client import DEFAULT_API_URL, DEFAULT_UPLOAD_URL
from safe_polling.db import database_url_from_env

__all__ = ["ConfigError", "Settings", "load_settings"]

# As loose as Telegram's documented shape allows (see telegram.md): digits, ':', secret.
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable, never its value.

    .. versionadded:: 0.1.0
    """


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot needs to run.

    Attributes:
        bot_token (:obj:`str`): The BotFather token (never logged, not in ``repr``).
        kie_api_key (:obj:`str`): The KIE.ai key (never logged, not in ``repr``).
        database_url (:obj:`str`): ``postgresql://...`` or ``sqlite:///file``.
        kie_api_url (:obj:`str`): KIE API base URL.
        kie_upload_url (:obj:`str`): KIE file upload base URL.
        admin_ids (frozenset[:obj:`int`]): Users allowed to run admin commands.
        telegram_base_url (:obj:`str` | :obj:`None`): PTB ``base_url`` (a local Bot API
            server or a fake); :obj:`None` for api.telegram.org.
        telegram_base_file_url (:obj:`str` | :obj:`None`): PTB ``base_file_url``.
        free_credits (:obj:`int`): Credits every new user receives once.
        poll_interval (:obj:`float`): Seconds between KIE status checks at first.
        poll_max_interval (:obj:`float`): The cap the interval backs off to.
        task_timeout (:obj:`float`): Seconds after which a running generation is refunded.
        max_upload_bytes (:obj:`int`): Larger results are sent as a link.
        kie_backoff (:obj:`float`): First wait between retries of KIE status queries.
        kie_callback_url (:obj:`str` | :obj:`None`): ``callBackUrl`` sent with every task.

    .. versionadded:: 0.1.0
    """

    bot_token: str = field(repr=False)
    kie_api_key: str = field(repr=False)
    database_url: str = field(repr=False)
    kie_api_url: str = DEFAULT_API_URL
    kie_upload_url: str = DEFAULT_UPLOAD_URL
    admin_ids: frozenset[int] = frozenset()
    telegram_base_url: str | None = None
    telegram_base_file_url: str | None = None
    free_credits: int = 10
    poll_interval: float = 3.0
    poll_max_interval: float = 15.0
    task_timeout: float = 900.0
    max_upload_bytes: int = 50 * 1024 * 1024
    kie_backoff: float = 1.0
    kie_callback_url: str | None = None


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _admins(raw: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ConfigError("ADMIN_IDS must be comma-separated numeric Telegram user ids")
        ids.add(int(part))
    return frozenset(ids)


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must start with http:// or https://")
    return value.rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings.

    Args:
        environ (Mapping[:obj:`str`, :obj:`str`], optional): Instead of :data:`os.environ`.

    Returns:
        :class:`Settings`

    Raises:
        ConfigError: Naming the variable at fault (never echoing a secret).

    .. versionadded:: 0.1.0
    """
    env = os.environ if environ is None else environ
    token = (env.get("TELEGRAM_BOT_TOKEN") or env.get("BOT_TOKEN") or "").strip()
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN (or BOT_TOKEN) is not set: get one from @BotFather")
    if not _TOKEN.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a BotFather token (id:secret)")
    key = env.get("KIE_API_KEY", "").strip()
    if not key:
        raise ConfigError("KIE_API_KEY is not set: create one at https://kie.ai/api-key")
    base_url = env.get("TELEGRAM_BASE_URL", "").strip() or None
    poll = _float(env, "KIE_POLL_INTERVAL", 3.0)
    return Settings(
        bot_token=token,
        kie_api_key=key,
        database_url=database_url_from_env(env),
        kie_api_url=_url(env, "KIE_API_URL", DEFAULT_API_URL),
        kie_upload_url=_url(env, "KIE_UPLOAD_URL", DEFAULT_UPLOAD_URL),
        admin_ids=_admins(env.get("ADMIN_IDS", "")),
        telegram_base_url=base_url,
        telegram_base_file_url=env.get("TELEGRAM_BASE_FILE_URL", "").strip() or None,
        free_credits=_int(env, "FREE_CREDITS", 10),
        poll_interval=poll,
        poll_max_interval=5 * poll,  # KIE's advice: start at 2-3 s, back off
        task_timeout=_float(env, "KIE_TASK_TIMEOUT", 900.0),
        kie_callback_url=_url(env, "KIE_CALLBACK_URL", "")
        if env.get("KIE_CALLBACK_URL")
        else None,
    )
