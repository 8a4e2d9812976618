"""Property tests (Hypothesis): the invoice payload parser, the settings loader, /history."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kie_bot.catalog import load_catalog
from kie_bot.config import ConfigError, Settings, load_settings
from kie_bot.handlers.payments import parse_payload
from kie_bot.handlers.start import fit_message

CATALOG = load_catalog()
TOKEN = "123456:" + "Ab1_" * 9  # a well-formed fake, built so no scanner flags it
SECRET_PART = TOKEN.split(":", 1)[1]
KIE_KEY = "kie-Key-0123456789"
DB_PASSWORD = "pw-Secret-987"

# Text that looks like a payload more often than random text would.
PARTS = st.one_of(
    st.sampled_from(["topup", "s50", "s150", "50", "160", "²", "", "-1", "050", "s50 "]),
    st.text(max_size=12),
)
PAYLOADS = st.one_of(st.text(max_size=64), st.lists(PARTS, max_size=5).map(":".join))


@given(PAYLOADS)
def test_payload_parser_names_a_package_only_for_its_exact_payload(payload: str) -> None:
    package = parse_payload(payload, CATALOG)  # never raises
    exact = {f"topup:{p.id}:{p.credits}": p for p in CATALOG.packages}
    assert package is exact.get(payload)


VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "inf",
            "-inf",
            "nan",
            "1e309",
            "0",
            "-1",
            "1",
            "3",
            "900",
            "10**23",
            str(10**23),
            "²",
            "0x10",
            "1_000",
            " 5 ",
            "http://",
            "https://",
            "http://[::1",
            "https://h:99999",
            "https://kie.example",
            "http://127.0.0.1:1",
            "ftp://x",
            "sqlite:///x.db",
            f"postgresql://u:{DB_PASSWORD}@db:5432/x",
            f"postgresql://u:{DB_PASSWORD}@[::1",
            "1,2",
            "1,-2",
            "a,b",
            "\n",
            "\x00",
        ]
    ),
)
NAMES = [
    "KIE_API_URL", "KIE_UPLOAD_URL", "KIE_CALLBACK_URL", "TELEGRAM_BASE_URL",
    "TELEGRAM_BASE_FILE_URL", "ADMIN_IDS", "FREE_CREDITS", "KIE_POLL_INTERVAL",
    "KIE_TASK_TIMEOUT", "DATABASE_URL", "RESULT_TRUSTED_ORIGINS",
]  # fmt: skip
# Keys start with letters no message contains, so finding one in a message is a leak.
KEYS = st.one_of(st.just(KIE_KEY), st.text(max_size=30).map(lambda s: "Kz9" + s))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6), KEYS)
def test_settings_load_or_fail_with_one_line_that_leaks_nothing(
    env: dict[str, str], key: str
) -> None:
    full = {"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": key, **env}
    try:
        loaded = load_settings(full)
    except ConfigError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert message.split(" ", 1)[0] in (*NAMES, "KIE_API_KEY")
        for secret in (SECRET_PART, DB_PASSWORD, key):
            assert secret.strip() in ("", "Kz9") or secret.strip() not in message
        return
    assert_sane(loaded)


def assert_sane(s: Settings) -> None:
    """What every money path relies on in a loaded configuration."""
    assert 0 <= s.free_credits <= 1_000_000
    assert math.isfinite(s.task_timeout)
    assert 10 <= s.task_timeout <= 86_400
    assert math.isfinite(s.poll_interval)
    assert 0 < s.poll_interval <= 60
    for url in (s.kie_api_url, s.kie_upload_url, s.telegram_base_url, s.kie_callback_url):
        if url is not None:
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https")
            assert parts.hostname
            assert parts.port is None or 0 <= parts.port <= 65535
    assert all(0 < i < 2**53 for i in s.admin_ids)
    assert s.kie_api_key.isprintable()
    assert " " not in s.kie_api_key


LINE = st.text(st.characters(exclude_characters="\n"), max_size=3000)


@given(st.lists(LINE, min_size=1, max_size=30), st.integers(100, 4096))
def test_fit_message_stays_within_the_limit_and_keeps_whole_lines(
    lines: list[str], limit: int
) -> None:
    more = "… more"
    text = fit_message(lines, more, limit)
    assert len(text.encode("utf-16-le", "surrogatepass")) // 2 <= limit
    kept = text.split("\n")
    if text == "\n".join(lines):
        return
    assert kept[-1] == more
    assert kept[:-1] == lines[: len(kept) - 1]
