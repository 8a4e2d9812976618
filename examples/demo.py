"""The offline demo: the real KIE bot, two instances, one polling lease, no network.

``bash scripts/demo.sh`` runs this file. Everything is a separate process on 127.0.0.1: the
fake Telegram Bot API (``python -m safe_polling.testing``), the fake KIE.ai server
(``python -m kie_bot.kie.fake_server``) and the bot itself, started exactly as on Render
(``python examples/kie_bot/bot_kie.py``, which calls :func:`safe_polling.run_polling`) on a
temporary SQLite file with a file lease. A scripted user then talks to the bot through the
fake's control API: /start, a top-up paid in Telegram Stars, an image generation through
the wizard, /balance and /history. Then a second instance of the same bot starts, stands
by, and takes over when the first one gets SIGTERM.

With ``--workers 2`` the story is another: two instances are workers of one Redis Streams
queue (``SAFE_POLLING_QUEUE``), share nine users' generations, and one hands its running
generations over on SIGTERM (``demo_workers.py``; it needs a Redis server, the default
story does not).

No token, key or network is needed; nothing is written outside a temporary directory, and
every child process is stopped on exit. The exit code is 0 only when every step happened
and the fake Telegram saw exactly one poller at a time and no 409 Conflict.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from safe_polling import install_redaction, redact
from safe_polling.testing import FakeBotAPIClient, Sent, spawn_fake_bot_api

ROOT = Path(__file__).resolve().parent.parent
KIE_BOT_DIR = ROOT / "examples" / "kie_bot"
BOT_SCRIPT = KIE_BOT_DIR / "bot_kie.py"
USER = 1001
# Seconds for each wait: a bot's answer, a log line, a fake's start. Generous, because a
# loaded CI machine can take seconds to start a Python process that imports PTB.
DEFAULT_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0  # run_polling's own graceful stop is bounded by 25 s
TOTAL_TIMEOUT = 180.0  # the whole demo, whatever happens (it takes ~10 s)
WIDTH = 96
# A run_polling log line: "<date> <time> <LEVEL> <logger>: <message>".
LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+)\s+(?P<logger>[\w.]+): (?P<message>.*)$")
# Variables of the caller's shell that would change what the bot does (a real token, a
# health port, another lease backend...): the demo sets its own.
FOREIGN_ENV = (
    "SAFE_POLLING",
    "KIE_",
    "TELEGRAM_",
    "BOT_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "FREE_CREDITS",
    "ADMIN_IDS",
)


class DemoError(Exception):
    """A step of the demo did not happen in time, or a check failed."""


# (long, short): the temporary directory is shown once, then as "<tmp>".
_aliases: list[tuple[str, str]] = []
# Seconds for each wait; set from --timeout.
_timeout = DEFAULT_TIMEOUT


def say(line: str = "") -> None:
    """Print one line of the transcript, with every secret masked."""
    for long, short in _aliases:
        line = line.replace(long, short)
    # The bots redact their own logs; this is the second lock on the door for anything
    # the demo itself prints (the fake's token is fake, but the rule has no exceptions).
    print(redact(line).rstrip(), flush=True)


def heading(title: str) -> None:
    """Print a section heading."""
    say()
    say(f"── {title} " + "─" * max(3, WIDTH - len(title) - 4))


async def bounded(awaitable: Any, timeout: float, what: str) -> Any:
    """Await *awaitable* for at most *timeout* seconds, else fail with *what*."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}") from None


# ---- child processes -------------------------------------------------------------------


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 10.0) -> int:
    """SIGTERM *proc*, SIGKILL it after *timeout* seconds; return its exit code."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


@contextlib.asynccontextmanager
async def fake_kie(key: str, cwd: Path, polls: int = 1) -> AsyncIterator[tuple[str, str]]:
    """Run ``python -m kie_bot.kie.fake_server``; yield its API and upload URLs.

    Each task answers *polls* status checks with "running" before its result.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kie_bot.kie.fake_server",
        "--port",
        "0",
        "--key",
        key,
        "--polls",
        str(polls),
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(KIE_BOT_DIR)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        urls: dict[str, str] = {}
        assert proc.stdout is not None
        while len(urls) < 2:
            line = await bounded(proc.stdout.readline(), _timeout, "the fake KIE server")
            name, sep, value = line.decode().strip().partition("=")
            if not sep:
                raise DemoError(f"the fake KIE server failed to start (exit {proc.returncode})")
            urls[name] = value
        yield urls["KIE_API_URL"], urls["KIE_UPLOAD_URL"]
    finally:
        await stop_process(proc)


class BotProcess:
    """One instance of ``bot_kie.py``: its process and its log, shown as it comes.

    Lines of the ``safe_polling`` loggers (and warnings or errors of any logger) are
    printed at once, so they land in the transcript where they happened; everything is
    kept for :meth:`wait_log` and for the failure report.
    """

    def __init__(self, name: str, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.env = dict(env)
        self.cwd = cwd
        self.lines: list[str] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    @property
    def proc(self) -> asyncio.subprocess.Process:
        """The running process."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was not started")
        return self._proc

    async def start(self) -> None:
        """Start ``python bot_kie.py``, its output merged into one pipe."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOT_SCRIPT),
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            self._show(line)
            async with self._changed:
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    def _show(self, line: str) -> None:
        match = LOG_LINE.match(line)
        if match is None:
            return
        level, logger = match["level"], match["logger"]
        if logger.split(".")[0] == "safe_polling" or level in ("WARNING", "ERROR", "CRITICAL"):
            say(f"   📜 {self.name} │ {match['message']}")

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return self._proc is not None

    async def wait_log(self, text: str, *, after: int = 0) -> int:
        """Wait until a log line (from index *after*) contains *text*; return its index."""

        async def found() -> int:
            async with self._changed:
                while True:
                    for index in range(after, len(self.lines)):
                        if text in self.lines[index]:
                            return index
                    if self.proc.returncode is not None or (
                        self._reader is not None and self._reader.done()
                    ):
                        raise DemoError(f"{self.name} exited before logging {text!r}")
                    await self._changed.wait()

        index: int = await bounded(found(), _timeout, f"{self.name} to log {text!r}")
        return index

    async def terminate(self) -> int:
        """Send SIGTERM like a deploy does; return the exit code."""
        code = await stop_process(self.proc, STOP_TIMEOUT)
        if self._reader is not None:
            await bounded(self._reader, 5, f"the end of {self.name}'s output")
        return int(code)

    async def kill(self) -> None:
        """Stop the process whatever state it is in (cleanup)."""
        if self._proc is not None:
            await stop_process(self._proc)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    def tail(self, count: int = 25) -> str:
        """The last lines of the output, for a failure report."""
        return "\n".join(f"    {line}" for line in self.lines[-count:]) or "    (no output)"


# ---- the user's side -------------------------------------------------------------------


def _keyboard(sent: Sent) -> list[list[dict[str, Any]]]:
    markup = (sent.message or {}).get("reply_markup") or {}
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    return rows if isinstance(rows, list) else []


def find_button(sent: Sent, prefix: str) -> dict[str, Any] | None:
    """The first inline button of *sent* whose callback data starts with *prefix*."""
    for row in _keyboard(sent):
        for button in row:
            if str(button.get("callback_data", "")).startswith(prefix):
                return dict(button)
    return None


def has_button(prefix: str) -> Callable[[Sent], bool]:
    """A predicate: a message carrying a button with callback data *prefix*..."""
    return lambda sent: find_button(sent, prefix) is not None


def text_has(method: str, substring: str) -> Callable[[Sent], bool]:
    """A predicate: a *method* record whose text contains *substring*."""
    return lambda sent: sent.method == method and substring in (sent.text or "")


def _buttons_line(sent: Sent) -> list[str]:
    labels = [f"[{b.get('text', '?')}]" for row in _keyboard(sent) for b in row]
    lines: list[str] = []
    indent = " " * 8
    current = indent
    for label in labels:
        if len(current) + len(label) + 1 > WIDTH and current.strip():
            lines.append(current)
            current = indent
        current += " " + label
    if current.strip():
        lines.append(current)
    return lines


def _media(sent: Sent, kind: str) -> str:
    message = sent.message or {}
    caption = message.get("caption") or ""
    name = ""
    param = sent.params.get(kind)
    if isinstance(param, dict):
        name = str(param.get("filename") or param.get("name") or "")
    elif isinstance(param, str):
        name = param
    details = ", ".join(part for part in (name, f"caption {caption!r}" if caption else "") if part)
    return f"[{kind}: {details}]" if details else f"[{kind}]"


def render(sent: Sent) -> list[str]:
    """How one thing the bot did looks in the transcript (empty: not worth a line)."""
    method = sent.method
    if method == "answerCallbackQuery":
        return [f"🤖 bot:  (toast) {sent.params['text']}"] if sent.params.get("text") else []
    if method == "answerPreCheckoutQuery":
        ok = str(sent.params.get("ok")).lower() in ("true", "1")
        return [f"🤖 bot:  [answers the pre-checkout query: {'ok' if ok else 'refused'}]"]
    if method == "sendInvoice":
        prices = sent.params.get("prices") or []
        total = sum(int(p.get("amount", 0)) for p in prices if isinstance(p, dict))
        title = sent.params.get("title", "")
        return [f"🤖 bot:  [invoice: {title!r}, {total} {sent.params.get('currency', '')}]"]
    if method in ("sendPhoto", "sendVideo", "sendAudio"):
        return [f"🤖 bot:  {_media(sent, method.removeprefix('send').lower())}"]
    prefix = "🤖 bot:  " if method == "sendMessage" else "🤖 bot:  (edits its message) "
    if method not in ("sendMessage", "editMessageText"):
        return [f"🤖 bot:  [{method}]"]
    text_lines = (sent.text or "").splitlines() or [""]
    lines = [prefix + text_lines[0]] + [" " * 9 + rest for rest in text_lines[1:]]
    return lines + _buttons_line(sent)


class User:
    """Plays a user through the fake's control API and prints both sides.

    A *quiet* user prints nothing (several of them talk at once in the two-worker demo).
    """

    def __init__(
        self,
        fake: FakeBotAPIClient,
        user_id: int = USER,
        *,
        name: str = "Alice",
        quiet: bool = False,
    ) -> None:
        self.fake = fake
        self.user_id = user_id
        self.name = name
        self.quiet = quiet
        self.shown = 0

    async def mark(self) -> int:
        """The fake's record count now: wait only for what comes after it."""
        return len(await self.fake.sent())

    async def show(self) -> None:
        """Print what the bot did in the user's chat since the last call."""
        if self.quiet:
            return
        for sent in await self.fake.sent(self.user_id):
            if sent.seq >= self.shown:
                for line in render(sent):
                    say(line)
                self.shown = sent.seq + 1

    async def expect(self, what: str | Callable[[Sent], bool], after: int, step: str) -> Sent:
        """Wait for the bot's answer to *step*."""
        try:
            found = await self.fake.wait_for(
                what, chat_id=self.user_id, after=after, timeout=_timeout
            )
        except TimeoutError:
            raise DemoError(f"no answer from the bot to {step} within {_timeout:g} s") from None
        await self.show()
        return found

    async def send(self, text: str, what: str | Callable[[Sent], bool]) -> Sent:
        """Type *text* and wait for the answer matching *what*."""
        await self.show()
        if not self.quiet:
            say(f"👤 user: {text}")
        mark = await self.mark()
        await self.fake.inject_message(self.user_id, text, first_name=self.name)
        return await self.expect(what, mark, repr(text))

    async def press(self, sent: Sent, prefix: str, what: str | Callable[[Sent], bool]) -> Sent:
        """Press the button with callback data *prefix*... on *sent*."""
        button = find_button(sent, prefix)
        if button is None or sent.message is None:
            raise DemoError(f"the bot's message has no button {prefix!r}")
        await self.show()
        if not self.quiet:
            say(f"👤 user: presses [{button.get('text')}]")
        mark = await self.mark()
        await self.fake.inject_callback_query(
            self.user_id, str(button["callback_data"]), message_id=sent.message["message_id"]
        )
        return await self.expect(what, mark, f"the button {button.get('text')!r}")

    async def pay(self, invoice: Sent, charge_id: str) -> None:
        """Pay *invoice* in Stars the way Telegram delivers it: query, answer, payment."""
        payload = str(invoice.params["payload"])
        amount = sum(int(p["amount"]) for p in invoice.params["prices"])
        await self.show()
        say(f"👤 user: pays {amount} ⭐ in Telegram's payment sheet")
        say("   ✈️ Telegram → bot: pre_checkout_query")
        mark = await self.mark()
        await self.fake.inject_pre_checkout_query(self.user_id, payload, amount)
        answer = await self.expect("answerPreCheckoutQuery", mark, "the pre-checkout query")
        if str(answer.params.get("ok")).lower() not in ("true", "1"):
            raise DemoError("the bot refused the pre-checkout query")
        say("   ✈️ Telegram → bot: successful_payment")
        mark = await self.mark()
        await self.fake.inject_successful_payment(self.user_id, payload, amount, charge_id)
        await self.expect(text_has("sendMessage", "Payment received"), mark, "the payment")


# ---- the story -------------------------------------------------------------------------


async def conversation(user: User) -> None:
    """/start, top-up in Stars, an image through the wizard, /balance, /history."""
    heading("A user talks to bot #1")
    menu = await user.send("/start", has_button("menu:topup"))
    packages = await user.press(menu, "menu:topup", has_button("pay:"))
    invoice = await user.press(packages, "pay:s50", "sendInvoice")
    await user.pay(invoice, "demo-charge-1")
    categories = await user.press(menu, "menu:generate", has_button("cat:"))
    models = await user.press(categories, "cat:image", has_button("model:"))
    await user.press(models, "model:nano-banana", text_has("sendMessage", "Describe"))
    options = await user.send("a watercolor fox in the snow", has_button("opt:"))
    price = await user.press(options, "opt:1", has_button("gen:go:"))
    mark = await user.mark()
    await user.press(price, "gen:go:", text_has("sendMessage", "in the queue"))
    await user.expect("sendPhoto", mark, "the generation (its result)")
    await user.expect(text_has("editMessageText", "done."), mark, "the generation (its end)")
    await user.send("/balance", text_has("sendMessage", "balance"))
    await user.send("/history", text_has("sendMessage", "last generations"))


async def handover(first: BotProcess, second: BotProcess, user: User) -> None:
    """A second instance stands by, then takes over when the first one gets SIGTERM."""
    heading("A second instance of the same bot starts (a deploy overlap)")
    say(f"   $ python {BOT_SCRIPT.relative_to(ROOT)}   # bot #2, same token, same lease")
    await second.start()
    await second.wait_log("Another instance holds the polling lease")
    say("   bot #2 is a hot standby: no getUpdates, no deleteWebhook while bot #1 polls.")

    heading("SIGTERM to bot #1 (what Render sends to the old instance)")
    mark = len(second.lines)
    await terminate_cleanly(first)
    index = await second.wait_log("Acquired the polling lease", after=mark)
    await second.wait_log("Polling started successfully!", after=index)

    heading("The user writes again: bot #2 answers (bot #1 is gone)")
    await user.send("/balance", text_has("sendMessage", "balance"))
    say("   ↑ answered by bot #2 from the same SQLite database: the balance survived")


async def terminate_cleanly(bot: BotProcess) -> None:
    """SIGTERM *bot* like a deploy does; fail unless it exits with code 0."""
    code = await bot.terminate()
    say(f"   {bot.name} exited with code {code}")
    if code != 0:
        raise DemoError(f"{bot.name} exited with code {code}, expected 0")


async def summary(fake: FakeBotAPIClient, second: BotProcess) -> None:
    """Stop bot #2 and check the fake's counters: one poller at a time, no 409."""
    heading("SIGTERM to bot #2; what the fake Telegram counted")
    code = await second.terminate()
    say(f"   bot #2 exited with code {code}")
    stats = await fake.stats()
    say(
        f"📊 getUpdates calls: {stats.get_updates_calls} · "
        f"max concurrent getUpdates: {stats.max_concurrent_get_updates} · "
        f"409 Conflict: {stats.conflicts_total}"
    )
    if code != 0:
        raise DemoError(f"bot #2 exited with code {code}, expected 0")
    if stats.max_concurrent_get_updates != 1 or stats.conflicts_total != 0:
        raise DemoError("the fake Telegram saw overlapping pollers or a 409 Conflict")


def bot_env(
    fake: FakeBotAPIClient, kie_key: str, kie_urls: tuple[str, str], tmp: Path
) -> dict[str, str]:
    """The environment of both bot instances: the fakes, SQLite and a file lease."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
    env.update(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_BASE_URL=fake.base_url,
        TELEGRAM_BASE_FILE_URL=fake.base_file_url,
        KIE_API_KEY=kie_key,
        KIE_API_URL=kie_urls[0],
        KIE_UPLOAD_URL=kie_urls[1],
        RESULT_TRUSTED_ORIGINS=kie_urls[0],  # the fake KIE serves results on 127.0.0.1
        KIE_POLL_INTERVAL="0.2",  # the fake finishes at once; no need for KIE's 3 s
        DATABASE_URL=f"sqlite:///{tmp / 'kie_bot.sqlite3'}",
        SAFE_POLLING_LEASE="file",
        SAFE_POLLING_LEASE_FILE=str(tmp / "polling.lease"),
        PYTHONUNBUFFERED="1",  # log lines must arrive as they happen
    )
    return env


async def run(tmp: Path, options: argparse.Namespace) -> None:
    """Start the fakes, then play the story: one instance and a handover, or two workers."""
    kie_key = secrets.token_hex(16)
    scaled: ModuleType | None = None
    if options.workers == 2:
        import demo_workers  # it imports this module: only now, not at the top

        scaled = demo_workers
        await scaled.check_redis(options.redis)  # before anything starts
    async with contextlib.AsyncExitStack() as stack:
        fake = await stack.enter_async_context(
            spawn_fake_bot_api(conflict_delay=0.5, ready_timeout=_timeout)
        )
        polls = scaled.KIE_POLLS if scaled else 1
        kie_urls = await stack.enter_async_context(fake_kie(kie_key, tmp, polls))
        install_redaction(fake.token, kie_key)
        env = bot_env(fake, kie_key, kie_urls, tmp)
        if scaled:
            name = scaled.queue_name()
            env.update(scaled.queue_env(options.redis, name))
            stack.push_async_callback(scaled.forget_queue, options.redis, name)
        first = BotProcess("bot #1", env, tmp)
        second = BotProcess("bot #2", env, tmp)
        # Unwound first, while the fakes still run: a bot never sees its Telegram vanish.
        stack.push_async_callback(first.kill)
        stack.push_async_callback(second.kill)
        say("🧪 Offline demo: every piece below is a separate process on 127.0.0.1")
        say(f"   fake Telegram Bot API  {fake.base_url.removesuffix('/bot')}")
        say(f"   fake KIE.ai            {kie_urls[0]} (uploads {kie_urls[1]})")
        say(f"   temporary directory    {tmp}  (<tmp> below)")
        _aliases.append((str(tmp), "<tmp>"))
        try:
            if scaled:
                await scaled.workers(fake, first, second)
            else:
                await story(fake, first, second)
        except Exception:
            for bot in (first, second):
                if bot.started:
                    say(f"\n--- last output of {bot.name} ---\n{bot.tail()}")
            raise


async def story(fake: FakeBotAPIClient, first: BotProcess, second: BotProcess) -> None:
    """Bot #1 starts, the user talks to it, bot #2 takes over, the counters are checked."""
    heading("Bot #1 starts (the real entry point, safe_polling.run_polling)")
    say(f"   $ python {BOT_SCRIPT.relative_to(ROOT)}")
    say("     DATABASE_URL=sqlite:///<tmp>/kie_bot.sqlite3  SAFE_POLLING_LEASE=file")
    await first.start()
    await first.wait_log("Polling started successfully!")
    user = User(fake)
    await conversation(user)
    await handover(first, second, user)
    await summary(fake, second)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: the two-worker story, and a knob for very slow machines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for each step (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: two bot workers share generations through a Redis queue (needs Redis)",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="the Redis server of --workers 2 (default redis://127.0.0.1:6379/0)",
    )
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit code (0: every step and check passed)."""
    global _timeout
    options = parse_args(argv)
    _timeout = options.timeout
    # No .pyc files in the repository from the children either (the demo runs with -B).
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    # SIGTERM (a CI runner giving up, say) unwinds like Ctrl-C: the children are stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with tempfile.TemporaryDirectory(prefix="safe-polling-demo-") as tmp:
        try:
            await bounded(run(Path(tmp), options), TOTAL_TIMEOUT, "the whole demo")
        except DemoError as exc:
            say(f"\n❌ demo failed: {exc}")
            return 1
        except Exception as exc:  # a fake died, a port vanished...: one clear line, exit 1
            say(f"\n❌ demo failed: unexpected {type(exc).__name__}: {exc}")
            return 1
        except asyncio.CancelledError:
            say("\n❌ demo interrupted; every process it started was stopped")
            return 130
    say("\n✅ demo finished: one poller at a time, a clean handover, no 409 Conflict")
    return 0


if __name__ == "__main__":
    # Run as the module ``demo``, the one demo_workers imports: one copy of its state.
    import demo

    sys.exit(asyncio.run(demo.main()))
