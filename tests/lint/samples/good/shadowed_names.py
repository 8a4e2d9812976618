"""A name that is a sync connection in one function is an async one in another."""

import sqlite3

import asyncpg

conn = sqlite3.connect("bot.db")


def migrate() -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER)")


async def handler() -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1/test")
    async with conn.transaction():
        await conn.execute("SELECT 1")
    conn.terminate()
