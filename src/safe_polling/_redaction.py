"""Keep secrets out of log lines: what a secret looks like, in every form it takes.

A secret reaches text in more shapes than its literal one. PTB downloads files
from ``/file/bot<token>/...`` and httpx logs that URL with the ``:``
percent-encoded (``%3A``); a URL nested in a query string is encoded again
(``%253A``); a database password containing ``@`` is written ``%40`` inside
``DATABASE_URL`` but appears decoded in a driver's message. So every secret,
whether recognised by its shape (bot tokens, URL passwords) or registered by
value, is matched character by character as the literal character *or* its
percent-encoding (any hex case, once or twice encoded).

Where the masking is hooked into logging, warnings and the exception hooks is
:mod:`safe_polling._redaction_hooks`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

__all__ = ["MIN_SECRET_LENGTH", "install_redaction", "redact"]

MIN_SECRET_LENGTH = 8
"""Registered secrets shorter than this are ignored: they would mask ordinary words.

.. versionadded:: 0.1.0
"""

# Well-known variables whose values (or the password inside them) are secrets:
# registered when redaction is installed, so a library that prints them is masked
# even before run_polling or open_balance_store has seen them.
_ENV_SECRETS = (
    "DATABASE_URL",
    "SAFE_POLLING_DATABASE_URL",
    "REDIS_URL",
    "SAFE_POLLING_REDIS_URL",
    "TELEGRAM_BOT_TOKEN",
    "BOT_TOKEN",
    "KIE_API_KEY",
)

_MASK = "***"


def _hex_byte(byte: int) -> str:
    """A pattern for ``%XX`` of *byte*, hex digits in any case, possibly encoded twice."""
    digits = "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in f"{byte:02x}")
    return f"%(?:25)?{digits}"


def _char(chars: str) -> str:
    """A pattern for one of *chars*, literal or percent-encoded."""
    encoded = "|".join(_hex_byte(b) for c in chars for b in c.encode("utf-8"))
    return f"(?:[{re.escape(chars)}]|{encoded})"


_DIGIT = _char("0123456789")
_COLON = _char(":")
_TOKEN_CHAR = _char("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# A bot token anywhere: the bot id, ':' and a URL-safe secret, each character
# literal or encoded. The look-behind lets "bot123:ABC..." in a URL match.
_TOKEN_RE = re.compile(rf"(?<![0-9])({_DIGIT}{{3,20}}){_COLON}{_TOKEN_CHAR}{{20,}}")
# The same for text without any '%' (most log lines): no encoded form can be there.
# Patterns that start with a literal (':', '://', '%') let the regex engine jump
# between its occurrences instead of trying every position: several times cheaper
# per log line (benchmarks/redaction_bench.py). The bot id before ':' is kept.
_LITERAL_TOKEN_RE = re.compile(r":(?<=[0-9]{3}:)[A-Za-z0-9_-]{20,}")
# The password part of a URL's userinfo: scheme://user:password@host. The
# password may hold %XX escapes; it ends at the first literal '@'.
_URL_PASSWORD_RE = re.compile(r"(://[^:/@\s]*):([^@/\s]+)@")
# The same URL nested in another URL, percent-encoded once or twice:
# scheme%3A%2F%2Fuser%3Apw%40 or scheme%253A%252F%252Fuser%253Apw%2540.
_ENCODED_URL_PASSWORD_RE = re.compile(
    r"(%(?:25)?3[aA]%(?:25)?2[fF]%(?:25)?2[fF]"
    r"(?:[^%:/@\s&]|%(?!(?:25)?(?:3[aA]|40))[0-9a-fA-F]{2})*)"
    r"(:|%(?:25)?3[aA])((?:[^%/@\s&]|%(?!(?:25)?40)[0-9a-fA-F]{2})+)(@|%(?:25)?40)"
)
# libpq's key=value form: "host=db password=s3cret user=bot".
_DSN_PASSWORD_RE = re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^\s'&]+)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
# Every registered secret in every form, and (for text without '%') literally.
_secrets_re: re.Pattern[str] | None = None
_literal_secrets_re: re.Pattern[str] | None = None
_literal_secrets: tuple[str, ...] = ()  # replaced whole, so readers need no lock


def _secret_pattern(secret: str) -> str:
    """A pattern for *secret* with each character literal or percent-encoded."""
    parts = []
    for c in secret:
        # All the bytes of the character's UTF-8 form, in a row.
        encoded = "".join(_hex_byte(b) for b in c.encode("utf-8", "surrogatepass"))
        parts.append(f"(?:{re.escape(c)}|{encoded})")
    return "".join(parts)


def _forms(secret: str) -> set[str]:
    """The values to mask for one registered secret: the secret part of a token or URL."""
    forms = {secret}
    if _TOKEN_RE.fullmatch(secret):
        # Mask the part after the colon, wherever it travels; the bot id is public. The
        # colon may be written encoded (%3A): split at it in any form, and decode the rest.
        forms = {unquote(unquote(re.split(_COLON, secret, maxsplit=1)[1]))}
    elif is_url(secret):
        try:
            password = urlsplit(secret).password
        except ValueError:  # a malformed URL: mask it whole
            password = secret
        # Keep host and database readable; mask the password as written and decoded.
        forms = {password, unquote(password)} if password else set()
    # Whitespace alone would mask every run of blanks.
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH and f.strip()}


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """*text* with each of *secrets* masked, as written, decoded and percent-encoded.

    For text that may quote a secret known to the caller (a driver's error holding a URL,
    a preflight line): unlike :func:`redact`, short secrets are masked too. Longest first,
    so a secret that contains another is masked whole; empty ones are ignored.
    """
    forms = {form for s in secrets if s for form in (s, unquote(s)) if form}
    if not forms:
        return text
    ordered = sorted(forms, key=len, reverse=True)
    return re.sub("|".join(_secret_pattern(s) for s in ordered), _MASK, text)


def is_url(value: str) -> bool:
    """Whether *value* is a URL (``scheme://...``), whose secret is its password alone.

    ``sqlite:///path`` and ``unix:///socket`` are URLs without a host; ``00000://``
    is none (a scheme starts with a letter).
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        return "://" in value  # malformed, but meant as a URL: masked whole by the caller
    return "://" in value and bool(parts.scheme)


def _mask_token(match: re.Match[str]) -> str:
    """The token with its secret masked and its public bot id readable."""
    return f"{unquote(unquote(match.group(1)))}:{_MASK}"


def _register(*secrets: str | None) -> None:
    """Add the secret forms of *secrets* to the masked set (no hook is installed)."""
    global _secrets_re, _literal_secrets_re, _literal_secrets
    new: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str):
            new |= _forms(secret)
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        # Longest first: a secret that contains another one is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secrets_re = re.compile("|".join(_secret_pattern(s) for s in ordered))
        _literal_secrets_re = re.compile("|".join(re.escape(s) for s in ordered))
        _literal_secrets = tuple(ordered)


def _register_env(env: Mapping[str, str] | None = None) -> None:
    """Register the secrets held by the well-known variables of *env* (default: os.environ)."""
    env = os.environ if env is None else env
    _register(*(env.get(name) for name in _ENV_SECRETS))


def redact(text: str) -> str:
    """Return *text* with bot tokens, URL passwords and registered secrets masked.

    Each is matched in every form it takes in a URL or a message: literal,
    percent-encoded (``%3A`` or ``%3a``, one character or all of them, or encoded
    twice), and for a registered bot token, the part after the colon alone. A
    token found by its shape keeps its public bot id so logs stay useful.

    Args:
        text: Any text.

    Returns:
        The text with every secret replaced by ``***``.

    Example:
        >>> redact("GET https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe")
        'GET https://api.telegram.org/bot123456:***/getMe'
        >>> redact("GET https://api.telegram.org/file/bot123456%3AAAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/a")
        'GET https://api.telegram.org/file/bot123456:***/a'
        >>> redact("postgresql://bot:hunter2@db.internal/app")
        'postgresql://bot:***@db.internal/app'

    .. versionadded:: 0.1.0
    """
    if not isinstance(text, str):
        text = str(text)
    # Without a '%' no encoded form can be present: the literal patterns suffice.
    encoded = "%" in text
    if encoded and _secrets_re is not None:
        text = _secrets_re.sub(_MASK, text)
    elif _literal_secrets_re is not None and any(s in text for s in _literal_secrets):
        text = _literal_secrets_re.sub(_MASK, text)
    if encoded:
        text = _TOKEN_RE.sub(_mask_token, text)
    elif ":" in text:
        text = _LITERAL_TOKEN_RE.sub(f":{_MASK}", text)
    if "://" in text:
        text = _URL_PASSWORD_RE.sub(rf"\1:{_MASK}@", text)
    if encoded:
        text = _ENCODED_URL_PASSWORD_RE.sub(rf"\1\2{_MASK}\4", text)
    if "=" in text and "assword" in text.lower():
        text = _DSN_PASSWORD_RE.sub(rf"\1{_MASK}", text)
    return text


def install_redaction(*secrets: str | None) -> None:
    """Mask secrets in everything this process logs or prints about errors.

    Bot tokens and URL passwords are recognised by their shape; pass any other
    secret (a KIE API key, a token of unusual shape) to have it masked too. A URL
    passed here registers its password (as written and decoded), a bot token its
    part after the colon. The values of ``DATABASE_URL``, ``REDIS_URL``,
    ``TELEGRAM_BOT_TOKEN``, ``BOT_TOKEN`` and ``KIE_API_KEY`` (and the
    ``SAFE_POLLING_`` URL variables) are registered too.

    Masking covers every log record of any logger (its message, arguments,
    ``extra`` values, exception and stack text, whatever the formatter), logging's
    own ``--- Logging error ---`` report, ``warnings`` output, and uncaught
    exceptions printed by the default :data:`sys.excepthook` and
    :func:`threading.excepthook`. Safe to call many times: secrets accumulate and
    the hooks are installed once. ``import safe_polling`` calls it;
    :func:`safe_polling.run_polling` calls it with the bot's token.

    Args:
        *secrets: Extra literal strings to mask. :obj:`None` and strings under
            :data:`MIN_SECRET_LENGTH` (8) characters, which would mask ordinary
            words, are ignored.

    Example:
        .. code-block:: python

            import os
            from safe_polling import install_redaction

            install_redaction(os.environ["KIE_API_KEY"])

    .. versionadded:: 0.1.0
    """
    from ._redaction_hooks import install_hooks

    _register(*secrets)
    if install_hooks():
        _register_env()
