"""Token and Bot API checks: token present, token shape, getMe, getWebhookInfo.

Requests go through an httpx *transport* rather than an ``httpx.AsyncClient``: the client
logs every request URL (which contains the token) at INFO on the ``httpx`` logger, the bare
transport logs nothing of the kind, so the preflight stays silent whatever the logging setup.

``run_polling`` passes the application's own bot instead (:class:`PtbBotApi`): a bot hosted
30-100 ms away from Telegram pays every call in round trips, and then the preflight's getMe is
the one ``initialize()`` would make, on the connection polling goes on to use
(benchmarks/startup_bench.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlsplit

import anyio
import httpx

from safe_polling._preflight._report import CheckResult, CheckStatus

if TYPE_CHECKING:
    from telegram import Bot

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_ALIAS_ENV = "BOT_TOKEN"  # noqa: S105
BASE_URL_ENV = "TELEGRAM_BASE_URL"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"

BaseUrl = str | Callable[[str], str]

# Telegram's documented shape; never be stricter than this (see reference notes).
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
# Same insertions PTB's Bot accepts in a base_url template.
_INSERTIONS = ("token", "TOKEN", "bot_token", "BOT_TOKEN", "bot-token", "BOT-TOKEN")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REJECTED_HINT = f"@BotFather → /mybots → your bot → API Token, then update {TOKEN_ENV}"


@dataclasses.dataclass(frozen=True)
class TokenSource:
    """Where the token came from; ``token`` is :obj:`None` when none was found."""

    token: str | None
    source: str
    conflict: bool = False


def resolve_token(token: str | None, env: Mapping[str, str]) -> TokenSource:
    """Pick the token: the argument, else ``TELEGRAM_BOT_TOKEN``, else ``BOT_TOKEN``."""
    if token:
        return TokenSource(token, "argument")
    main, alias = env.get(TOKEN_ENV, ""), env.get(TOKEN_ALIAS_ENV, "")
    if main:
        return TokenSource(main, TOKEN_ENV, conflict=bool(alias) and alias != main)
    if alias:
        return TokenSource(alias, f"{TOKEN_ALIAS_ENV} (alias of {TOKEN_ENV})")
    return TokenSource(None, "")


def check_token_present(found: TokenSource) -> CheckResult:
    """Say which variable gave the token, never its value."""
    if found.token is None:
        return CheckResult(
            "token",
            CheckStatus.FAIL,
            f"no bot token: neither {TOKEN_ENV} nor {TOKEN_ALIAS_ENV} is set",
            hint=f"set {TOKEN_ENV} to the token @BotFather gave you",
        )
    if found.conflict:
        return CheckResult(
            "token",
            CheckStatus.WARN,
            f"from {found.source}; {TOKEN_ALIAS_ENV} is also set to a different value",
            hint=f"remove {TOKEN_ALIAS_ENV} or make it equal: {TOKEN_ENV} wins",
        )
    return CheckResult("token", CheckStatus.OK, f"from {found.source}")


def check_token_shape(token: str) -> CheckResult:
    """Check the token looks like ``<digits>:<secret of 30+ URL-safe chars>``, offline."""
    problem = _shape_problem(token)
    if problem is None:
        secret_len = len(token.partition(":")[2])
        return CheckResult("token format", CheckStatus.OK, f"<bot id>:<{secret_len}-char secret>")
    return CheckResult(
        "token format",
        CheckStatus.FAIL,
        f"malformed token: {problem}",
        hint="copy the whole token from @BotFather: digits, ':', then about 35 characters",
    )


def _shape_problem(token: str) -> str | None:
    if _TOKEN_RE.match(token):
        return None
    if token != token.strip():
        return "it has leading/trailing whitespace"
    if token[:1] in "\"'" or token[-1:] in "\"'":
        return "it is wrapped in quotes"
    bot_id, sep, secret = token.partition(":")
    if not sep:
        return "no ':' between bot id and secret"
    if not bot_id.isdigit():
        return "the part before ':' is not all digits"
    if not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
        return "the secret has characters other than letters, digits, '_' and '-'"
    return f"the secret after ':' has {len(secret)} characters, expected at least 30"


def api_base(base_url: BaseUrl, token: str) -> str:
    """Build the per-bot API root exactly as PTB's ``Bot`` does from ``base_url``."""
    if callable(base_url):
        return base_url(token)
    if any("{" + name + "}" in base_url for name in _INSERTIONS):
        return base_url.format_map(dict.fromkeys(_INSERTIONS, token))
    return base_url + token


def server_label(base_url: BaseUrl, token: str) -> str:
    """``host:port`` of the Bot API server for messages; never the path (it holds the token)."""
    parts = urlsplit(api_base(base_url, token))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname or '?'}:{port}"


class ApiError(Exception):
    """The Bot API answered ``ok: false``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description


class ApiUnreachable(Exception):
    """No usable answer: refused, timed out, or not a Bot API server."""


class BotCaller(Protocol):
    """What the getMe and webhook checks call: :class:`BotApi` or :class:`PtbBotApi`."""

    label: str

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method``; raise :class:`ApiError` or :class:`ApiUnreachable`."""

    async def aclose(self) -> None:
        """Release what the caller opened."""


class BotApi:
    """A minimal, log-silent Bot API caller with hard timeouts.

    Args:
        token: The bot token.
        base_url: PTB-style base URL (prefix, ``{token}`` template or callable).
        timeout: Seconds for each call, connect to last byte.
    """

    def __init__(self, token: str, base_url: BaseUrl, timeout: float) -> None:
        self._root = api_base(base_url, token).rstrip("/")
        self.label = server_label(base_url, token)
        self._timeout = timeout
        self._transport = httpx.AsyncHTTPTransport(proxy=_proxy_for(self._root), retries=0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._transport.aclose()

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` and return its ``result``.

        Raises:
            ApiError: Telegram answered ``ok: false``.
            ApiUnreachable: No answer in time, refused, or not a Bot API response.
        """
        timeout = self._timeout
        request = httpx.Request(
            "POST",
            f"{self._root}/{method}",
            json=params,
            extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)},
        )
        try:
            # The transport's own timeouts cover each phase; this bounds the whole call.
            with anyio.fail_after(timeout + 1):
                response = await self._transport.handle_async_request(request)
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError):
            raise ApiUnreachable(f"no answer from {self.label} within {timeout:g}s") from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "attempts failed" in str(exc) else str(exc)
            raise ApiUnreachable(f"cannot connect to {self.label}: {reason}") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise ApiUnreachable(f"cannot reach {self.label}: {reason}") from None
        return self._unwrap(response.status_code, body)

    def _unwrap(self, status: int, body: bytes) -> Any:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "ok" not in payload:
            raise ApiUnreachable(
                f"{self.label} answered HTTP {status} without a Bot API response"
                " (is the base URL a Bot API server?)"
            )
        if payload["ok"]:
            return payload.get("result")
        raise ApiError(int(payload.get("error_code", status)), str(payload.get("description", "")))


class PtbBotApi:
    """The checks' calls through a PTB ``Bot``, which stays initialized for the start after.

    ``getMe`` is ``bot.initialize()`` (so the application's own ``initialize()`` makes no
    second one), getWebhookInfo goes over the bot's connection pool, and the last webhook seen
    is kept in :attr:`webhook` so the start deletes the webhook only when there is one.

    Args:
        bot: The application's bot.
        label: ``host:port`` of the Bot API server for messages.
        timeout: Seconds for each call.
    """

    def __init__(self, bot: Bot, label: str, timeout: float) -> None:
        self.bot = bot
        self.label = label
        self._timeout = timeout
        self.webhook: dict[str, Any] | None = None  # the last getWebhookInfo answer

    async def call(self, method: str, **params: Any) -> Any:
        """Call ``method`` (``getMe`` or ``getWebhookInfo``) through the bot.

        Raises:
            ApiError: Telegram refused the call (401 for a rejected token).
            ApiUnreachable: No answer in time, or a network error.
        """
        from telegram.error import InvalidToken, NetworkError, TelegramError

        try:
            with anyio.fail_after(self._timeout + 1):
                if method == "getMe":
                    await self.bot.initialize()
                    return self.bot.bot.to_dict()
                info = await self.bot.get_webhook_info(read_timeout=self._timeout)
                self.webhook = info.to_dict()
                return self.webhook
        except TimeoutError:
            raise ApiUnreachable(
                f"no answer from {self.label} within {self._timeout:g}s"
            ) from None
        except InvalidToken:
            # PTB's message holds the token itself: keep only the status.
            raise ApiError(401, "Unauthorized") from None
        except NetworkError as exc:  # TimedOut included
            raise ApiUnreachable(f"cannot reach {self.label}: {exc.message}") from None
        except TelegramError as exc:
            raise ApiError(400, exc.message) from None

    async def aclose(self) -> None:
        """Nothing to close: the bot's connections serve the start that follows."""


def _proxy_for(url: str) -> str | None:
    # Honour HTTPS_PROXY/NO_PROXY like PTB's httpx client does, but never for loopback.
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(urlsplit(url).scheme) or proxies.get("all")


async def check_get_me(api: BotCaller) -> CheckResult:
    """Call getMe: the token works and the server answers."""
    try:
        me = await api.call("getMe")
    except ApiError as exc:
        return _api_failure("getMe", exc, api.label)
    except ApiUnreachable as exc:
        return _unreachable("getMe", exc)
    username = me.get("username") if isinstance(me, dict) else None
    if not username:
        return CheckResult(
            "getMe",
            CheckStatus.WARN,
            "authorized, but the bot has no username",
            hint="CommandHandler needs bot.username; check the server",
        )
    return CheckResult("getMe", CheckStatus.OK, f"authorized as @{username} (id {me.get('id')})")


async def check_webhook(api: BotCaller) -> CheckResult:
    """Call getWebhookInfo: a set webhook is a warning, since polling will delete it."""
    try:
        info = await api.call("getWebhookInfo")
    except ApiError as exc:
        return _api_failure("webhook", exc, api.label)
    except ApiUnreachable as exc:
        return _unreachable("webhook", exc)
    info = info if isinstance(info, dict) else {}
    pending = int(info.get("pending_update_count") or 0)
    error = info.get("last_error_message")
    error_part = f"; last error: {error}" if error else ""
    if not info.get("url"):
        return CheckResult(
            "webhook", CheckStatus.OK, f"none set; {pending} pending update(s){error_part}"
        )
    return CheckResult(
        "webhook",
        CheckStatus.WARN,
        f"set to {webhook_host(info['url'])} with {pending} pending update(s): "
        f"will be deleted before polling{error_part}",
        hint="fine for polling; to clear it now: safe-polling reset-webhook",
    )


def webhook_host(url: str) -> str:
    """Scheme and host of a webhook URL: its path may hold a secret, so it is left out."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + "/…"
    except ValueError:
        return "<unparsable URL>"


def _api_failure(name: str, exc: ApiError, label: str) -> CheckResult:
    if exc.code in (401, 404):
        return CheckResult(
            name,
            CheckStatus.FAIL,
            f"token rejected by Telegram: revoke/copy it again from @BotFather (HTTP {exc.code})",
            hint=REJECTED_HINT,
        )
    return CheckResult(
        name,
        CheckStatus.FAIL,
        f"{label} answered {exc.code}: {exc.description}",
        hint="retry in a minute; if it persists, check status of the Bot API server",
    )


def _unreachable(name: str, exc: ApiUnreachable) -> CheckResult:
    return CheckResult(
        name,
        CheckStatus.FAIL,
        str(exc),
        hint=f"check network/firewall/proxy, or the base URL ({BASE_URL_ENV} / --base-url)",
    )
