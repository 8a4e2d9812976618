"""User-facing texts in Russian and English, chosen from Telegram's ``language_code``.

Example:
    >>> t("en", "balance", balance=5)
    '💰 Your balance: 5 credits.'

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from kie_bot.texts import en, ru

__all__ = ["LANGUAGES", "lang_for", "t"]

LANGUAGES: dict[str, dict[str, str]] = {"en": en.TEXTS, "ru": ru.TEXTS}
_RUSSIAN_READERS = ("ru", "uk", "be", "kk", "uz", "ky", "tg")


def lang_for(language_code: str | None) -> str:
    """Return ``"ru"`` for Russian (and neighbouring) Telegram languages, else ``"en"``.

    .. versionadded:: 0.1.0
    """
    code = (language_code or "").split("-", 1)[0].lower()
    return "ru" if code in _RUSSIAN_READERS else "en"


def t(lang: str, key: str, **values: object) -> str:
    """Return the text *key* in *lang* (English when unknown), formatted with *values*.

    .. versionadded:: 0.1.0
    """
    texts = LANGUAGES.get(lang, en.TEXTS)
    return texts[key].format(**values) if values else texts[key]
