"""Secrets never reach a log line: tokens, URL passwords, registered secrets."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from safe_polling import install_redaction, redact

from ._redaction_state import restore_logging_and_secrets

__all__ = ["restore_logging_and_secrets"]

# Secrets registered here would otherwise stay registered for every later test.
pytestmark = pytest.mark.usefixtures("restore_logging_and_secrets")

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_masks_token_in_bot_api_url_but_keeps_bot_id() -> None:
    text = redact(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in text
    assert "bot123456789:***/getUpdates" in text


def test_redact_masks_database_url_password() -> None:
    assert redact("postgres://kie:s3cr3t-pw@db.example/kie") == "postgres://kie:***@db.example/kie"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "user 42 paid 10:30 for 3 credits at https://example.org/a:b"
    assert redact(text) == text


def test_registered_secret_is_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction("kie-key-0123456789abcdef")
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("calling with key=%s", "kie-key-0123456789abcdef")
    assert "kie-key-0123456789abcdef" not in caplog.text
    assert "key=***" in caplog.text


def test_records_from_any_logger_and_exception_text_are_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").info("HTTP Request: GET https://x/bot%s/getMe", TOKEN)
        try:
            raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
        except ValueError:
            logging.getLogger("telegram.ext").exception("boom")
    formatted = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in caplog.text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in formatted
    assert "123456789:***" in formatted


def test_install_is_idempotent() -> None:
    install_redaction()
    installed = logging.getLogRecordFactory()
    install_redaction("another-secret-value")
    assert logging.getLogRecordFactory() is installed  # no stacking of factories
    record = logging.getLogRecordFactory()("n", logging.INFO, "f", 1, TOKEN, None, None)
    assert record.getMessage() == "123456789:***"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("sqlite:///tmp/balances.db", set()),  # a URL without a host or password: no secret
        ("unix:///run/redis.sock", set()),
        ("postgresql://bot:hunter2hunter2@db/app", {"hunter2hunter2"}),
        ("00000://", {"00000://"}),  # no URL (a scheme starts with a letter): masked whole
    ],
)
def test_a_url_registers_only_its_password(value: str, masked: set[str]) -> None:
    from safe_polling import _redaction

    # Registering a whole sqlite path would mask it in every log line and grow the
    # pattern with each store a process opens.
    assert _redaction._forms(value) == masked


def test_a_secret_containing_another_is_masked_whole() -> None:
    install_redaction("kie-key-0123", "kie-key-0123-and-more-4567")
    # Literal, and percent-encoded (a line with '%' takes the encoded path).
    assert redact("key kie-key-0123-and-more-4567 end") == "key *** end"
    assert redact("key=kie-key-0123-and-more-4567&n=100%25") == "key=***&n=100%25"
    assert redact("key kie-key-0123 end") == "key *** end"


def test_redact_accepts_any_object_and_masks_its_text() -> None:
    error = ValueError(f"The token {TOKEN} was rejected")
    assert redact(error) == "The token 123456789:*** was rejected"  # type: ignore[arg-type]
    assert redact(42) == "42"  # type: ignore[arg-type]


def test_password_of_a_url_nested_in_a_query_string_is_masked() -> None:
    nested = quote("postgresql://bot:hunter2hunter@db.internal/app", safe="")
    text = redact(f"GET /login?next={nested}")
    assert "hunter2hunter" not in text
    assert "bot" in text
    assert "db.internal" in text  # the host stays readable


@pytest.mark.parametrize("times", [1, 2])
def test_a_nested_url_keeps_its_encoding_and_loses_only_its_password(times: int) -> None:
    # A short password (under MIN_SECRET_LENGTH, never registered) is masked by its place
    # in the URL, whether the outer URL encoded the inner one once or twice.
    nested = "redis://:pw0@cache.internal/0"
    for _ in range(times):
        nested = quote(nested, safe="")
    text = redact(f"GET /login?next={nested}&x=1")
    expected = "redis://:***@cache.internal/0"
    for _ in range(times):
        expected = quote(expected, safe="*")
    assert text == f"GET /login?next={expected}&x=1"


def test_libpq_key_value_password_is_masked_and_other_keys_stay() -> None:
    assert (
        redact("connection failed: host=db.internal password=s3cret-pw user=bot")
        == "connection failed: host=db.internal password=*** user=bot"
    )
    assert redact("dsn: PASSWORD = 'two words' port=5432") == "dsn: PASSWORD = *** port=5432"
    ordinary = "password reset sent for user=42"
    assert redact(ordinary) == ordinary


def test_a_malformed_url_is_masked_whole_as_written_and_decoded() -> None:
    url = "https://bot:p%40ss-word-0123@[::1/x"  # an unclosed IPv6 host: no URL parser reads it
    install_redaction(url)
    for form in (url, url.replace("%40", "@")):
        text = redact(f"could not connect to {form} (bad host)")
        assert "ss-word-0123" not in text
        assert text.startswith("could not connect to ")
        assert text.endswith(" (bad host)")


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        # Short secrets too: a driver's error quotes the password it was given.
        ("auth failed for pw", ["pw"], "auth failed for ***"),
        # As written, decoded and percent-encoded (one character or all of them).
        ("url p%40ss and p@ss and %70%40%73%73", ["p%40ss"], "url *** and *** and ***"),
        # Longest first: a secret holding another is masked whole, not as "***-long".
        ("key secret-long here", ["secret", "secret-long"], "key *** here"),
        # Empty and missing secrets mask nothing.
        ("nothing to hide", ["", None], "nothing to hide"),
        ("nothing to hide", [], "nothing to hide"),
    ],
)
def test_mask_secrets_masks_every_form_of_the_secrets_it_is_given(
    text: str, secrets: list[str | None], expected: str
) -> None:
    from safe_polling._redaction import mask_secrets

    assert mask_secrets(text, secrets) == expected
