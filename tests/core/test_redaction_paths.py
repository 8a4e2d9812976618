"""Every path by which a secret could leave the process is masked, through real components.

The bot token reached INFO logs on every file download: PTB fetches
``/file/bot<token>/...`` and httpx logs that URL with the colon as ``%3A``. The
other paths are the logging machinery's corners (extra, makeLogRecord, formatters
that format the exception themselves, stack_info, the "--- Logging error ---"
report) and what Python prints itself (warnings, uncaught exceptions).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.handlers
import os
import queue
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from safe_polling import install_redaction
from safe_polling.testing import FakeBotAPI

from ._redaction_state import restore_logging_and_secrets

__all__ = ["restore_logging_and_secrets"]

pytestmark = pytest.mark.usefixtures("restore_logging_and_secrets")

APP = Path(__file__).with_name("_leaky_app.py")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = TOKEN.split(":", 1)[1]
KIE_KEY = "kie/key+with spaces&odd:chars-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def forms(secret: str) -> list[str]:
    """The forms a leak would take: literal, percent-encoded (both cases), fully encoded."""
    encoded = quote(secret, safe="")
    full = "".join(f"%{b:02X}" for b in secret.encode())
    return [secret, encoded, encoded.lower(), full, full.lower()]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets or (SECRET,):
        for form in forms(secret):
            assert form not in text, f"secret leaked as {form[:6]}..."


class UserHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A plain handler writing to memory, as an application would add one."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())

    def getvalue(self) -> str:
        assert isinstance(self.stream, io.StringIO)
        return self.stream.getvalue()


@pytest.fixture
def user_handler() -> UserHandler:
    """An application's own logging: a root handler and httpx at INFO, no safe_polling setup."""
    handler = UserHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.INFO)
    return handler


async def test_file_download_url_is_masked_in_the_applications_own_log(
    fake_bot_api: FakeBotAPI, user_handler: UserHandler
) -> None:
    update = fake_bot_api.inject_photo(7, PNG)
    file_id = update["message"]["photo"][-1]["file_id"]
    async with fake_bot_api.bot() as bot:
        file = await bot.get_file(file_id)
        out = io.BytesIO()
        await file.download_to_memory(out)
    assert out.getvalue() == PNG
    text = user_handler.getvalue()
    assert "/file/bot" in text  # the download was logged, by httpx
    assert_no_secret(text, fake_bot_api.token.split(":", 1)[1])


@pytest.mark.parametrize(
    "line",
    [
        f"GET https://api.telegram.org/file/bot{TOKEN.replace(':', '%3A')}/photos/a.jpg",
        f"GET https://api.telegram.org/file/bot{TOKEN.replace(':', '%3a')}/photos/a.jpg",
        "GET /file/bot" + "".join(f"%{b:02x}" for b in TOKEN.encode()) + "/a",
        "GET /file/bot" + "".join(f"%{b:02X}" for b in TOKEN.encode()) + "/a",
        f"next={quote(quote(f'https://x/bot{TOKEN}/getMe', safe=''), safe='')}",
    ],
)
def test_token_is_masked_in_every_url_encoding(line: str, user_handler: UserHandler) -> None:
    logging.getLogger("httpx").info("HTTP Request: %s", line)
    assert_no_secret(user_handler.getvalue())
    assert "123456789" in user_handler.getvalue()  # the public bot id stays


@pytest.mark.parametrize("colon", [":", "%3A", "%253a"])
def test_registered_token_part_after_colon_is_masked_alone(
    colon: str, user_handler: UserHandler
) -> None:
    install_redaction(TOKEN.replace(":", colon))  # as written in an env var or a URL
    logging.getLogger("leak.test").info("secret part: %s.", SECRET)
    assert "secret part: ***." in user_handler.getvalue()


def test_database_password_is_masked_as_written_and_decoded(user_handler: UserHandler) -> None:
    password = "p@ss:w/rd-0123"
    url = f"postgresql://bot:{quote(password, safe='')}@db.internal:5432/app"
    install_redaction(url)
    log = logging.getLogger("leak.test")
    log.info("connecting to %s", url)
    log.info("driver said: password %s rejected", password)
    log.info("nested: %s", quote(url, safe=""))
    log.info("dsn: host=db password=%s user=bot", password)
    text = user_handler.getvalue()
    assert_no_secret(text, password)
    assert "db.internal" in text  # the host stays readable


def test_registered_key_is_masked_in_every_encoding(user_handler: UserHandler) -> None:
    install_redaction(KIE_KEY)
    log = logging.getLogger("leak.test")
    for form in forms(KIE_KEY):
        log.info("GET /x?key=%s", form)
    assert_no_secret(user_handler.getvalue(), KIE_KEY)
    assert user_handler.getvalue().count("key=***") == len(forms(KIE_KEY))


@pytest.mark.parametrize(
    ("secret", "masked"),
    [(None, False), ("", False), ("1234567", False), ("12345678", True)],
)
def test_registered_secret_boundaries(
    secret: str | None, masked: bool, user_handler: UserHandler
) -> None:
    install_redaction(secret)
    logging.getLogger("leak.test").info("value 1234567 and 12345678 and None")
    text = user_handler.getvalue()
    assert "value 1234567 and " in text
    assert ("12345678" not in text) is masked
    assert "None" in text


def test_extra_values_are_masked_in_handler_output(user_handler: UserHandler) -> None:
    user_handler.setFormatter(logging.Formatter("%(message)s token=%(token)s"))
    logging.getLogger("leak.test").info("with extra", extra={"token": TOKEN})
    assert "with extra token=123456789:***" in user_handler.getvalue()


class JsonFormatter(logging.Formatter):
    """Like python-json-logger: formats the exception itself and dumps every attribute."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {k: str(v) for k, v in record.__dict__.items() if k not in {"exc_info"}}
        payload["message"] = record.getMessage()
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def test_json_formatter_that_formats_the_exception_itself_is_masked(
    user_handler: UserHandler,
) -> None:
    user_handler.setFormatter(JsonFormatter())
    try:
        raise ValueError(f"The token `{TOKEN}` was rejected")
    except ValueError:
        logging.getLogger("leak.test").exception("failed", extra={"url": f"/bot{TOKEN}/x"})
    text = user_handler.getvalue()
    assert "was rejected" in text
    assert_no_secret(text)


def test_stack_info_is_masked(user_handler: UserHandler) -> None:
    log = logging.getLogger("leak.test")
    log.info("here", stack_info=True)  # 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw
    text = user_handler.getvalue()
    assert "Stack (most recent call last)" in text
    assert "123456789:***" in text
    assert_no_secret(text)


def test_records_rebuilt_by_a_queue_listener_are_masked(user_handler: UserHandler) -> None:
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    sink = logging.StreamHandler(io.StringIO())
    sink.setFormatter(logging.Formatter("%(message)s %(url)s"))
    listener = logging.handlers.QueueListener(records, sink)
    listener.start()
    try:
        # What a socket or queue listener receives from a process without redaction.
        raw = {"msg": f"from elsewhere {TOKEN}", "url": f"/file/bot{TOKEN}/a", "args": None}
        records.put(logging.makeLogRecord(raw))
    finally:
        listener.stop()
    assert isinstance(sink.stream, io.StringIO)
    text = sink.stream.getvalue()
    assert "from elsewhere 123456789:***" in text
    assert_no_secret(text)


@pytest.mark.parametrize(
    ("mode", "marker"),
    [
        ("logging-error", "--- Logging error ---"),
        ("warning", "UserWarning: rejected token 123456789:***"),
        ("captured-warning", "UserWarning: rejected token 123456789:***"),
        ("thread", "Exception in thread leaky"),
        ("post-init", "RuntimeError: post_init failed for bot123456789:***"),
        ("registered-key", "UserWarning: GET /x?key=***&raw=***"),
    ],
)
async def test_stderr_paths_in_a_real_process_mask_the_token(
    mode: str, marker: str, fake_bot_api: FakeBotAPI
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TELEGRAM_BOT_TOKEN", "BOT_TOKEN", "KIE_API_KEY")
    }
    env |= {
        "LEAK_TOKEN": TOKEN,
        "LEAK_KIE_KEY": KIE_KEY,
        "TELEGRAM_BASE_URL": fake_bot_api.base_url,
        "PYTHONWARNINGS": "default",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(APP),
        mode,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    text = out.decode() + err.decode()
    assert marker in text, text[-2000:]
    assert_no_secret(text, SECRET, KIE_KEY)


def test_well_known_variables_are_masked_from_import_on() -> None:
    # No install_redaction call: importing safe_polling registers what these variables hold.
    code = (
        "import logging, os, safe_polling\n"
        "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
        "logging.info('key %s', os.environ['KIE_API_KEY'])\n"
        "logging.info('driver said: password %s rejected', 'env-db-pass-0123')\n"
    )
    env = os.environ | {
        "KIE_API_KEY": "env-kie-key-0123456789",
        "DATABASE_URL": "postgresql://bot:env-db-pass-0123@db.internal/app",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == "key ***\ndriver said: password *** rejected\n"
