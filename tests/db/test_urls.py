"""URL helpers and the placeholder translation."""

from __future__ import annotations

import pytest

from safe_polling.db import DEFAULT_DATABASE_URL, database_url_from_env, mask_database_url
from safe_polling.db._sqlite import translate_placeholders


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgres://bot:hunter2@db:5432/bot", "postgres://bot:***@db:5432/bot"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db?password=hunter2&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://:hunter2@h/db", "postgresql://:***@h/db"),
        ("postgresql://u:hunter2@h:notaport/db", "postgresql://***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////var/data/x.sqlite3", "sqlite:////var/data/x.sqlite3"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_mask_database_url(url: str, masked: str) -> None:
    assert mask_database_url(url) == masked
    assert "hunter2" not in mask_database_url(url)


def test_database_url_from_env() -> None:
    assert database_url_from_env({}) == DEFAULT_DATABASE_URL
    assert database_url_from_env({"DATABASE_URL": "  "}) == DEFAULT_DATABASE_URL
    assert database_url_from_env({"DATABASE_URL": " postgres://h/db "}) == "postgres://h/db"


def test_translate_placeholders() -> None:
    sql = "SELECT '$1', \"$2\", $1, $12 FROM t WHERE a = 'it''s $3' AND b = $2"
    assert translate_placeholders(sql) == (
        "SELECT '$1', \"$2\", ?1, ?12 FROM t WHERE a = 'it''s $3' AND b = ?2"
    )


async def test_memory_database_works() -> None:
    from safe_polling.db import open_balance_store

    async with open_balance_store("sqlite:///:memory:") as store:
        assert await store.add_user_balance_async(1, 2) == 2
        assert store.kind == "sqlite"
