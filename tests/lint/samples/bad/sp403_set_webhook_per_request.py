"""SP403: the webhook set again on every HTTP request."""

import os

from flask import Flask
from starlette.routing import Route
from telegram import Bot

app = Flask(__name__)
bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"])


async def register() -> None:
    await bot.set_webhook("https://bot.example.com/telegram")  # expect: SP403


@app.post("/telegram")
async def telegram() -> str:
    await register()
    return "ok"


@app.get("/health")
async def health() -> str:
    await bot.setWebhook("https://bot.example.com/telegram")  # expect: SP403
    return "ok"


async def reset(request: object) -> str:
    await bot.set_webhook("https://bot.example.com/telegram")  # expect: SP403
    return "ok"


async def startup() -> None:
    await bot.set_webhook("https://bot.example.com/telegram")


routes = [Route("/reset", reset)]
on_startup = [startup]
