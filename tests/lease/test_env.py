"""lease_from_env choices, bad values, and bot id parsing."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest

from safe_polling.lease import (
    FileLease,
    HolderInfo,
    LeaseError,
    PostgresLease,
    RedisLease,
    bot_id_from_token,
    lease_from_env,
)

from .conftest import SECRET, TOKEN

PG = "postgres://bot:dbpass@db.internal:5432/app"


@pytest.mark.parametrize(
    ("env", "kind", "where"),
    [
        ({"DATABASE_URL": PG}, PostgresLease, "db.internal:5432/app"),
        ({"DATABASE_URL": PG.replace("postgres:", "postgresql:")}, PostgresLease, "db.internal"),
        ({"DATABASE_URL": "sqlite:///bot.db"}, FileLease, tempfile.gettempdir()),
        ({}, FileLease, "safe-polling-987654321-default.lock"),
        (
            {"SAFE_POLLING_LEASE": "redis", "REDIS_URL": "redis://:rpass@r:6379/1"},
            RedisLease,
            "r:6379/1",
        ),
        (
            {
                "SAFE_POLLING_LEASE": "redis",
                "SAFE_POLLING_REDIS_URL": "redis://a:1/0",
                "REDIS_URL": "redis://b:2/0",
            },
            RedisLease,
            "a:1/0",
        ),
        (
            {
                "SAFE_POLLING_LEASE": "file",
                "DATABASE_URL": PG,
                "SAFE_POLLING_LEASE_FILE": "/run/bot.lock",
            },
            FileLease,
            "/run/bot.lock",
        ),
        (
            {
                "SAFE_POLLING_LEASE": " Postgres ",
                "DATABASE_URL": PG,
                "SAFE_POLLING_LEASE_NAME": "eu",
            },
            PostgresLease,
            "key 987654321:eu",
        ),
    ],
)
def test_choices(env: dict[str, str], kind: type, where: str) -> None:
    lease = lease_from_env(token=TOKEN, env=env)
    assert lease is not None
    assert isinstance(lease, kind)
    assert where in lease.describe()
    assert SECRET not in lease.describe()
    assert "pass" not in lease.describe()


def test_none_disables_the_lease() -> None:
    assert (
        lease_from_env(token=TOKEN, env={"SAFE_POLLING_LEASE": "none", "DATABASE_URL": PG}) is None
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SAFE_POLLING_LEASE": "zookeeper"}, "postgres, redis, file, none"),
        ({"SAFE_POLLING_LEASE": "postgres"}, "DATABASE_URL"),
        ({"SAFE_POLLING_LEASE": "postgres", "DATABASE_URL": "mysql://h/db"}, "postgres://"),
        ({"SAFE_POLLING_LEASE": "redis"}, "REDIS_URL"),
        ({"SAFE_POLLING_LEASE_NAME": "blue\ngreen"}, "SAFE_POLLING_LEASE_NAME holds a control"),
        ({"SAFE_POLLING_LEASE_FILE": "/tmp/a\tb.lock"}, "SAFE_POLLING_LEASE_FILE holds a control"),
    ],
)
def test_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(LeaseError, match=message):
        lease_from_env(token=TOKEN, env=env)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFE_POLLING_LEASE", "file")
    monkeypatch.setenv("SAFE_POLLING_LEASE_FILE", str(tmp_path / "x.lock"))
    lease = lease_from_env(token=TOKEN)
    assert isinstance(lease, FileLease)
    assert lease.path == tmp_path / "x.lock"


@pytest.mark.parametrize(("value", "bot_id"), [(TOKEN, 987654321), ("42", 42), (42, 42)])
def test_bot_id_from_token(value: str | int, bot_id: int) -> None:
    assert bot_id_from_token(value) == bot_id


@pytest.mark.parametrize("value", ["", "abc:def", f"-1:{SECRET}", f"x{SECRET}", 0, True])
def test_bad_bot_id_never_echoes_the_value(value: str | int) -> None:
    with pytest.raises(LeaseError) as caught:
        bot_id_from_token(value)
    assert SECRET not in str(caught.value)


def test_holder_info_text() -> None:
    since = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=3, microsecond=0)
    info = HolderInfo("web-1", 42, since, "abc1234", "backend_pid=7")
    assert str(info) == "host=web-1 pid=42 since 12:00:03Z version=abc1234 backend_pid=7"
    old = HolderInfo("web-1", None, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "v")
    assert str(old) == "host=web-1 pid=? since 2024-01-02T03:04:05Z version=v"
