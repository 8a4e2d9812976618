"""The seed bot's balance helpers: sync sqlite3, called from async handlers."""

import sqlite3

DB_PATH = "bot.db"


def get_user_balance(user_id: int) -> int:
    conn = sqlite3.connect(DB_PATH)
    try:
        row = conn.execute("SELECT balance FROM users WHERE id = ?", (user_id,)).fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()


def set_user_balance(user_id: int, balance: int) -> None:
    with sqlite3.connect(DB_PATH) as conn:
        conn.execute("UPDATE users SET balance = ? WHERE id = ?", (balance, user_id))
