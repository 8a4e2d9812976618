"""Async handlers reaching the storage helper directly, through an instance attribute and
through a module-level instance imported from storage.py."""

from storage import STORAGE, Storage, Users, get_balance
from telegram import Update
from telegram.ext import ContextTypes


class Wallet:
    def __init__(self, storage: Storage) -> None:
        self.users = Users(storage)

    async def show(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        amount = self.users.balance(update.effective_user.id)  # expect: SP305
        await update.effective_message.reply_text(str(amount))


async def balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    amount = get_balance(update.effective_user.id)  # expect: SP305
    data = STORAGE.load("settings")  # expect: SP305
    STORAGE.cached()  # expect: SP305
    await update.effective_message.reply_text(f"{amount} {data}")
