"""Offline fake of the Telegram Bot API server for tests of python-telegram-bot bots.

:class:`FakeBotAPI` runs in-process (``async with FakeBotAPI() as api``);
``python -m safe_polling.testing --port N`` runs it as a process, driven through
:class:`FakeBotAPIClient` or started with :func:`spawn_fake_bot_api`. The pytest plugin
:mod:`safe_polling.testing.pytest_plugin` provides the ``fake_bot_api`` and
``fake_bot_api_process`` fixtures.

.. versionadded:: 0.1.0
"""

from safe_polling.testing._client import FakeBotAPIClient
from safe_polling.testing._core import make_token
from safe_polling.testing._flood import FloodLimits
from safe_polling.testing._process import spawn_fake_bot_api
from safe_polling.testing._records import Call, FakeStats, Sent, TokenStats
from safe_polling.testing._server import FakeBotAPI

__all__ = [
    "Call",
    "FakeBotAPI",
    "FakeBotAPIClient",
    "FakeStats",
    "FloodLimits",
    "Sent",
    "TokenStats",
    "make_token",
    "spawn_fake_bot_api",
]
