"""SP301: sync database drivers inside async handlers."""

import sqlite3

import psycopg2
import redis
from telegram import Update
from telegram.ext import ContextTypes

CONN = sqlite3.connect("bot.db", check_same_thread=False)
cache = redis.Redis(host="127.0.0.1")


def get_db() -> sqlite3.Connection:
    return sqlite3.connect("bot.db")


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    cur = CONN.cursor()
    cur.execute("SELECT 1")  # expect: SP301
    cur.fetchone()
    CONN.commit()  # expect: SP301


async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    db = get_db()  # expect: SP305
    db.execute("SELECT 1")  # expect: SP301
    with psycopg2.connect("dbname=test") as pg:  # expect: SP301
        pg.cursor().execute("SELECT 1")


async def cached(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    cache.get("key")  # expect: SP301


async def annotated(conn: sqlite3.Connection) -> None:
    conn.execute("SELECT 1")  # expect: SP301
