"""The offline demo's two-worker story: ``bash scripts/demo.sh --workers 2``.

Both instances of the KIE bot run with ``SAFE_POLLING_QUEUE`` pointing at a Redis server:
each one is a worker that handles updates from the Redis Streams queue and runs the
generations it confirms, and the one holding the polling lease also fetches from the fake
Telegram into the queue. Nine users ask for an image at the same moment; both workers run
some of the generations. Bot #1 then gets SIGTERM while its generations still run at the
fake KIE, and bot #2 picks them up and delivers them: every user gets one image.

The update queue must be shared by processes, so it needs a real Redis server (the
library's in-memory queue lives inside one process): the machine's, at
``redis://127.0.0.1:6379/0`` unless ``--redis URL`` says otherwise. The demo uses keys of
its own and deletes them at the end. The default one-worker demo needs no Redis.
"""

from __future__ import annotations

import asyncio
import secrets

from demo import (
    BOT_SCRIPT,
    ROOT,
    BotProcess,
    DemoError,
    User,
    find_button,
    has_button,
    heading,
    say,
    summary,
    terminate_cleanly,
    text_has,
)
from safe_polling.queue import DEFAULT_PARTITIONS, partition_of_chat
from safe_polling.testing import FakeBotAPIClient

__all__ = [
    "KIE_POLLS",
    "check_redis",
    "forget_queue",
    "queue_env",
    "queue_name",
    "workers",
]

# Status checks the fake KIE answers "running" before each result: about 13 s at the
# demo's poll interval (0.2 s, backing off to 1 s), so bot #1's generations are still
# running when it gets SIGTERM, however slowly the users' wizards went.
KIE_POLLS = 15
# More users than half the partitions, each in a partition of its own: whatever the split,
# both workers own some of them.
USERS = 9


async def check_redis(url: str) -> None:
    """Fail with one clear line when no Redis answers at *url*."""
    try:
        from redis.asyncio import Redis
    except ImportError:
        raise DemoError(
            "--workers 2 needs the redis client: pip install 'safe-polling[redis]'"
        ) from None
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception:
        raise DemoError(
            f"--workers 2 needs a Redis server for the update queue, and none answers at "
            f"{_where(url)}: start one (redis-server), or pass --redis URL"
        ) from None
    finally:
        await client.aclose()


def _where(url: str) -> str:
    """The host and port of *url*, without a password."""
    return url.split("://", 1)[-1].rsplit("@", 1)[-1]


def queue_env(url: str, name: str) -> dict[str, str]:
    """What turns both bots into workers of one queue."""
    return {"SAFE_POLLING_QUEUE": url, "SAFE_POLLING_QUEUE_NAME": name}


async def forget_queue(url: str, name: str) -> None:
    """Delete the demo's queue keys (streams, ownership, members) from Redis."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"safe-polling:queue:*:{name}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def user_ids() -> list[int]:
    """USERS user ids, no two in one partition of the queue."""
    by_partition: dict[int, int] = {}
    candidate = 7001
    while len(by_partition) < USERS:
        by_partition.setdefault(partition_of_chat(candidate, DEFAULT_PARTITIONS), candidate)
        candidate += 1
    return sorted(by_partition.values())


async def order(user: User, prompt: str) -> str:
    """/start, Generate → Image → Nano Banana → *prompt* → Generate; the generation id."""
    menu = await user.send("/start", has_button("menu:generate"))
    categories = await user.press(menu, "menu:generate", has_button("cat:"))
    models = await user.press(categories, "cat:image", has_button("model:"))
    await user.press(models, "model:nano-banana", text_has("sendMessage", "Describe"))
    options = await user.send(prompt, has_button("opt:"))
    price = await user.press(options, "opt:0", has_button("gen:go:"))
    await user.press(price, "gen:go:", text_has("sendMessage", "in the queue"))
    say(f"👤 user {user.user_id}: Nano Banana, {prompt!r} → ✅ Generate · 🤖 ⏳ in the queue…")
    button = find_button(price, "gen:go:")
    assert button is not None  # pressed just above
    return str(button["callback_data"]).rsplit(":", 1)[1]


async def workers(fake: FakeBotAPIClient, first: BotProcess, second: BotProcess) -> None:
    """Two workers start, share nine users' generations, then one hands over on SIGTERM."""
    heading("Two workers of the same bot start, sharing one Redis queue")
    say(f"   $ python {BOT_SCRIPT.relative_to(ROOT)}   # twice, both with")
    say("     SAFE_POLLING_QUEUE=redis://…  DATABASE_URL=sqlite:///<tmp>/kie_bot.sqlite3")
    await asyncio.gather(first.start(), second.start())
    await asyncio.gather(
        first.wait_log("Partitions owned here: 8 of 16"),
        second.wait_log("Partitions owned here: 8 of 16"),
    )
    say("   Each owns half of the queue's 16 partitions; the lease holder also polls Telegram.")

    heading(f"{USERS} users ask for an image at the same moment")
    users = [User(fake, uid, name=f"User {uid}", quiet=True) for uid in user_ids()]
    gen_ids = await asyncio.gather(
        *(order(u, f"a lighthouse, take {n}") for n, u in enumerate(users, 1))
    )
    owner = {g: await _who_logged(f"generation {g} started", first, second) for g in gen_ids}
    for bot in (first, second):
        mine = [u.user_id for u, g in zip(users, gen_ids, strict=True) if owner[g] is bot]
        say(f"   {bot.name} runs the generations of users {', '.join(map(str, mine))}")
    if {owner[g] for g in gen_ids} != {first, second}:
        raise DemoError("one worker ran every generation: the queue did not share the work")

    heading("SIGTERM to bot #1 while its generations still run at KIE")
    mark = len(second.lines)
    await terminate_cleanly(first)
    index = await second.wait_log("picked up", after=mark)
    say(f"   📜 bot #2 │ {second.lines[index].split(': ', 1)[-1]}")

    heading("Every user gets exactly one image")
    await _deliveries(fake, dict(zip(users, gen_ids, strict=True)), owner, (first, second))
    await summary(fake, second)


async def _who_logged(text: str, first: BotProcess, second: BotProcess) -> BotProcess:
    """The bot whose log has a line with *text* (waiting for it among the running ones)."""
    for bot in (first, second):
        if any(text in line for line in bot.lines):
            return bot
    running = [bot for bot in (first, second) if bot.proc.returncode is None]
    waits = {asyncio.ensure_future(bot.wait_log(text)): bot for bot in running}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    task = done.pop()
    task.result()  # a DemoError if it never came
    return waits[task]


async def _deliveries(
    fake: FakeBotAPIClient,
    gen_of: dict[User, str],
    owner: dict[str, BotProcess],
    bots: tuple[BotProcess, BotProcess],
) -> None:
    """Wait for every user's image; check it came once; say who delivered it."""
    for user, gen_id in gen_of.items():
        await user.expect(text_has("editMessageText", "done."), 0, f"user {user.user_id}'s image")
        photos = [s for s in await fake.sent(user.user_id) if s.method == "sendPhoto"]
        if len(photos) != 1:
            raise DemoError(f"user {user.user_id} got {len(photos)} images, expected 1")
        by = await _who_logged(f"generation {gen_id} delivered", *bots)
        moved = " (picked up after bot #1 stopped)" if owner[gen_id] is not by else ""
        say(f"🤖 → user {user.user_id}: [photo] ✅ done · delivered by {by.name}{moved}")


def queue_name() -> str:
    """A queue name of this run only: nothing shared with another run or bot."""
    return f"demo-{secrets.token_hex(4)}"
