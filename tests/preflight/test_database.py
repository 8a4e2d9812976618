"""The DATABASE_URL check against real PostgreSQL and real SQLite files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tests.preflight.conftest import PASSWORD, assert_no_secrets

from safe_polling._preflight import CheckResult, CheckStatus, run_preflight
from safe_polling._preflight._database import check_database, parse_database_url
from safe_polling.db import mask_database_url as mask_url


def _with_password(dsn: str, password: str = PASSWORD, **changes: object) -> str:
    parts = urlsplit(dsn)
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, **changes))


async def _check(url: str | None, *, required: bool = False) -> CheckResult:
    result = await check_database(url, required=required, timeout=3)
    assert_no_secrets(f"{result.detail} {result.hint}")
    return result


@pytest.mark.postgres
async def test_postgres_ok_masks_password(pg_dsn: str) -> None:
    # Trust auth: the password is ignored by the server but must never be shown.
    result = await _check(_with_password(pg_dsn))
    assert result.status is CheckStatus.OK, result.detail
    assert "PostgreSQL" in result.detail
    assert ":***@127.0.0.1" in result.detail


@pytest.mark.postgres
async def test_postgres_unknown_database_fails(pg_dsn: str) -> None:
    result = await _check(_with_password(pg_dsn, path="/no_such_db_for_preflight"))
    assert result.status is CheckStatus.FAIL
    assert "database does not exist" in result.detail


@pytest.mark.postgres
async def test_postgres_scheme_alias(pg_dsn: str) -> None:
    url = "postgres://" + pg_dsn.partition("://")[2]
    assert (await _check(url)).status is CheckStatus.OK


async def test_postgres_refused(dead_port: int) -> None:
    result = await _check(f"postgresql://u:{PASSWORD}@127.0.0.1:{dead_port}/db")
    assert result.status is CheckStatus.FAIL
    assert f"cannot connect to postgresql://u:***@127.0.0.1:{dead_port}/db" in result.detail


async def test_postgres_hanging_server_times_out(hanging_port: int) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:{hanging_port}/db"
    result = await check_database(url, required=False, timeout=0.5)
    assert result.status is CheckStatus.FAIL
    assert "within 0.5s" in result.detail


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"mysql://u:{PASSWORD}@h/db", "unsupported scheme 'mysql'"),
        (f"postgresql+asyncpg://u:{PASSWORD}@h/db", "driver suffix"),
        (f"postgresql://u:{PASSWORD}@h:port/db", "port is not a number"),
        (f"postgresql://u:{PASSWORD}@:5432/db", "no host name"),
        ("just-a-name", "not a URL"),
        ("sqlite://", "SQLite URL needs a path"),
    ],
)
async def test_malformed_urls(url: str, problem: str) -> None:
    result = await _check(url)
    assert result.status is CheckStatus.FAIL
    assert problem in result.detail
    assert result.hint


async def test_not_set_is_skipped_unless_required() -> None:
    assert (await _check(None)).status is CheckStatus.SKIP
    required = await _check("", required=True)
    assert required.status is CheckStatus.FAIL
    assert "DATABASE_URL is not set" in required.detail


async def test_sqlite_new_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    result = await _check(f"sqlite:///{path}")
    assert result.status is CheckStatus.OK
    assert "will be created" in result.detail
    assert not path.exists()


async def test_sqlite_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    sqlite3.connect(path).close()
    result = await _check(f"sqlite:///{path}")
    assert result.status is CheckStatus.OK
    assert result.detail == f"SQLite {path}"


async def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(b"this is not sqlite" * 100)
    result = await _check(f"sqlite:///{path}")
    assert result.status is CheckStatus.FAIL
    assert "not a database" in result.detail


async def test_sqlite_directory_missing_or_not_a_directory(tmp_path: Path) -> None:
    missing = await _check(f"sqlite:///{tmp_path}/nope/bot.db")
    assert missing.status is CheckStatus.FAIL
    assert "does not exist" in missing.detail
    (tmp_path / "file").write_text("x")
    not_dir = await _check(f"sqlite:///{tmp_path}/file/bot.db")
    assert not_dir.status is CheckStatus.FAIL
    assert "is not a directory" in not_dir.detail


async def test_sqlite_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = await _check("sqlite:///data.db")
    assert result.status is CheckStatus.OK
    assert result.detail == f"SQLite {tmp_path / 'data.db'} (will be created)"


async def test_sqlite_in_memory_warns() -> None:
    assert (await _check("sqlite:///:memory:")).status is CheckStatus.WARN


def test_mask_url_handles_odd_passwords() -> None:
    assert mask_url("postgresql://u:p@ss:w@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("postgresql://u@h/d") == "postgresql://u@h/d"
    assert mask_url("not a url") == "not a url"
    assert parse_database_url("sqlite:////abs/x.db").sqlite_path == "/abs/x.db"


async def test_report_scrubs_the_password_everywhere(dead_port: int) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:{dead_port}/db"
    report = await run_preflight(env={"DATABASE_URL": url}, render_yaml=False, timeout=2)
    assert_no_secrets(str(report) + json.dumps(report.to_dict()))
    assert any(c.name == "database" and c.status is CheckStatus.FAIL for c in report.checks)
