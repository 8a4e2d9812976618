"""Settings from the environment, validated once at start-up with clear errors.

Required: ``TELEGRAM_BOT_TOKEN`` (or ``BOT_TOKEN``) and ``KIE_API_KEY``. Everything else has
a default; the library's own variables (lease, preflight) are read by :mod:`safe_polling`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from kie_bot.catalog import DEFAULT_CATALOG, DEFAULT_MARKUP
from kie_bot.downloads import origin_of
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
        result_trusted_origins (frozenset[:obj:`str`]): ``scheme://host:port`` origins whose
            results are downloaded even over plain http or from a private address (the
            offline fakes on 127.0.0.1); every other result must be https on a public
            address (``RESULT_TRUSTED_ORIGINS``).
        download_timeout (:obj:`float`): Longest time one result download may take
            before the user gets the link instead.
        price_markup (:class:`decimal.Decimal`): The user's price is KIE's price times
            this, rounded up to whole credits (``PRICE_MARKUP``, at least 1).
        catalog_path (:class:`pathlib.Path`): The models and packages on sale
            (``CATALOG_FILE``; the bundled ``catalog.yaml`` by default).

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
    result_trusted_origins: frozenset[str] = frozenset()
    download_timeout: float = 120.0
    price_markup: Decimal = DEFAULT_MARKUP
    catalog_path: Path = DEFAULT_CATALOG


# The ranges a setting may take, with why: a value outside them breaks a money path
# (KIE_TASK_TIMEOUT=inf leaves every generation charged and stuck in SUBMITTED; a huge
# FREE_CREDITS gives away the operator's KIE account) or a Telegram limit.
_MAX_FREE_CREDITS = 1_000_000
_POLL_INTERVAL = (0.05, 60.0)  # KIE suggests 2-3 s; the offline fakes run at 0.05 s
_TASK_TIMEOUT = (10.0, 86_400.0)  # the slowest KIE video takes minutes; a day is a bug
_MAX_USER_ID = 2**53  # Telegram ids fit in 52 bits (telegram.md)
_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")
_MARKUP = (Decimal(1), Decimal(100))  # never below KIE's price; 100x is a typo


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # int() accepts "1_000" and non-ASCII digits ("²" fails, "٣" passes): ASCII only.
    if not (raw.isascii() and raw.lstrip("-").isdigit()):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return value


def _float(
    env: Mapping[str, str], name: str, default: float, bounds: tuple[float, float]
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    low, high = bounds
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    # Written as "not inside" so that nan (every comparison false) is refused too.
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a number of seconds from {low:g} to {high:g}")
    return value


def _markup(env: Mapping[str, str]) -> Decimal:
    raw = env.get("PRICE_MARKUP", "").strip()
    if not raw:
        return DEFAULT_MARKUP
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    # Below 1 sells under KIE's own price; NaN and infinity fail both comparisons.
    if not (value.is_finite() and _MARKUP[0] <= value <= _MARKUP[1]):
        raise ConfigError(
            f"PRICE_MARKUP must be a number from {_MARKUP[0]} to {_MARKUP[1]} "
            "(1.5 sells at one and a half times KIE's price)"
        )
    return value


def _admins(raw: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not (part.isascii() and part.isdigit() and 0 < int(part) < _MAX_USER_ID):
            raise ConfigError("ADMIN_IDS must be comma-separated numeric Telegram user ids")
        ids.add(int(part))
    return frozenset(ids)


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not _is_http_url(value):
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host")
    return value.rstrip("/")


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    return _url(env, name, "") if env.get(name, "").strip() else None


def _is_http_url(value: str) -> bool:
    """Whether *value* is an absolute http(s) URL with a host and a valid port."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


def _secret(env: Mapping[str, str], name: str, missing: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(missing)
    # It goes into an HTTP header: a control character or a space would break every request.
    if not (value.isascii() and value.isprintable()) or " " in value or len(value) > 512:
        raise ConfigError(f"{name} must be printable ASCII without spaces (at most 512 chars)")
    return value


def _database_url(env: Mapping[str, str]) -> str:
    url = database_url_from_env(env)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in _DATABASE_SCHEMES or not url.isprintable():
        raise ConfigError(
            "DATABASE_URL must be a postgresql://user:password@host:port/db or sqlite:///path URL"
        )
    return url


def _origins(raw: str) -> frozenset[str]:
    origins = set()
    for part in raw.split(","):
        part = part.strip().rstrip("/")
        if not part:
            continue
        if not _is_http_url(part) or urlsplit(part).path:
            raise ConfigError(
                "RESULT_TRUSTED_ORIGINS must be comma-separated scheme://host:port origins"
            )
        origins.add(origin_of(part))
    return frozenset(origins)


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
    key = _secret(
        env, "KIE_API_KEY", "KIE_API_KEY is not set: create one at https://kie.ai/api-key"
    )
    poll = _float(env, "KIE_POLL_INTERVAL", 3.0, _POLL_INTERVAL)
    return Settings(
        bot_token=token,
        kie_api_key=key,
        database_url=_database_url(env),
        kie_api_url=_url(env, "KIE_API_URL", DEFAULT_API_URL),
        kie_upload_url=_url(env, "KIE_UPLOAD_URL", DEFAULT_UPLOAD_URL),
        admin_ids=_admins(env.get("ADMIN_IDS", "")),
        telegram_base_url=_optional_url(env, "TELEGRAM_BASE_URL"),
        telegram_base_file_url=_optional_url(env, "TELEGRAM_BASE_FILE_URL"),
        free_credits=_int(env, "FREE_CREDITS", 10, 0, _MAX_FREE_CREDITS),
        poll_interval=poll,
        poll_max_interval=5 * poll,  # KIE's advice: start at 2-3 s, back off
        task_timeout=_float(env, "KIE_TASK_TIMEOUT", 900.0, _TASK_TIMEOUT),
        kie_callback_url=_optional_url(env, "KIE_CALLBACK_URL"),
        result_trusted_origins=_origins(env.get("RESULT_TRUSTED_ORIGINS", "")),
        price_markup=_markup(env),
        catalog_path=Path(env.get("CATALOG_FILE", "").strip() or DEFAULT_CATALOG),
    )
