"""Catalog, texts, settings and the durable state machine's storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import string
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kie_bot.catalog import CatalogError, Params, build_request, load_catalog
from kie_bot.config import ConfigError, load_settings
from kie_bot.generations import GenerationService, PollSettings, StartResult
from kie_bot.kie import Api, KieClient
from kie_bot.kie.fake_server import FakeKie, Outcome
from kie_bot.storage import State, Storage
from kie_bot.texts import LANGUAGES, lang_for, t
from safe_polling.db import open_balance_store

TOKEN = "123456:" + "Ab1_" * 9  # a well-formed fake, built so no scanner flags it


# -- catalog -------------------------------------------------------------------------------
def test_bundled_catalog_covers_the_required_models() -> None:
    catalog = load_catalog()
    assert len(catalog.models) >= 8
    slugs = {m.slug for m in catalog.models}
    assert {"google/nano-banana", "flux-kontext-pro", "veo3_fast", "veo3", "V4_5"} <= slugs
    assert {m.api for m in catalog.models} == set(Api)
    assert any(
        m.category == "video" and m.image and m.image.mode == "required" for m in catalog.models
    )
    assert all(
        len(f"gen:go:{'0' * 32}") <= 64 and len(f"model:{m.id}") <= 64 for m in catalog.models
    )


def test_requests_are_complete_for_each_api() -> None:
    catalog = load_catalog()
    edit = catalog.model("nano-edit")
    flux = catalog.model("flux-pro")
    suno = catalog.model("suno")
    gpt = catalog.model("gpt4o")
    assert edit is not None
    assert flux is not None
    assert suno is not None
    assert gpt is not None
    urls = ("https://files/x.jpg",)
    assert build_request(edit, Params("p", "16:9", urls)) == {
        "model": "google/nano-banana-edit",
        "input": {
            "prompt": "p",
            "image_size": "16:9",
            "image_urls": list(urls),
            "output_format": "png",
        },
    }
    assert build_request(flux, Params("p", "bogus", urls))["inputImage"] == urls[0]
    assert build_request(flux, Params("p", "bogus"))["aspectRatio"] == "1:1"
    assert build_request(suno, Params("p", "vocals")) == {
        "prompt": "p",
        "instrumental": False,
        "customMode": False,
        "model": "V4_5",
    }
    assert "model" not in build_request(gpt, Params("p", "3:2"))
    hook = "https://example.org/kie"
    assert build_request(suno, Params("p"), hook)["callBackUrl"] == hook
    assert build_request(edit, Params("p"), hook)["callBackUrl"] == hook
    assert "callBackUrl" not in build_request(edit, Params("p"))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("models: []\npackages: []", "no models"),
        (
            "models:\n - {id: a, title: A, category: image, api: nope, slug: s, price: 1, "
            "media: photo}\npackages: [{id: p, stars: 1, credits: 1}]",
            "api must be one of",
        ),
        (
            "models:\n - {id: a, title: A, category: image, api: market, slug: s, price: 0, "
            "media: photo}\npackages: [{id: p, stars: 1, credits: 1}]",
            "price must be positive",
        ),
        (
            "models:\n - {id: a, title: A, category: image, api: market, slug: s, price: true, "
            "media: photo}\npackages: [{id: p, stars: 1, credits: 1}]",
            "'price' must be a int",
        ),
    ],
)
def test_bad_catalog_names_the_entry(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=re.escape(error.split(" must")[0])):
        load_catalog(path)


# -- texts ---------------------------------------------------------------------------------
def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, ru = LANGUAGES["en"], LANGUAGES["ru"]
    assert en.keys() == ru.keys()

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key in en:
        assert fields(en[key]) == fields(ru[key]), key


def test_language_is_chosen_from_language_code() -> None:
    assert lang_for("ru") == "ru"
    assert lang_for("uk-UA") == "ru"
    assert lang_for("de") == "en"
    assert lang_for(None) == "en"
    assert t("ru", "balance", balance=3) == "💰 Ваш баланс: 3 кредитов."


# -- settings ------------------------------------------------------------------------------
def test_settings_from_env_with_aliases_and_defaults() -> None:
    s = load_settings(
        {
            "BOT_TOKEN": TOKEN,
            "KIE_API_KEY": "secret-key",
            "ADMIN_IDS": "1, 2,3",
            "FREE_CREDITS": "0",
            "KIE_API_URL": "http://127.0.0.1:9/",
        }
    )
    assert s.admin_ids == frozenset({1, 2, 3})
    assert s.free_credits == 0
    assert s.kie_api_url == "http://127.0.0.1:9"
    assert s.kie_upload_url == "https://kieai.redpandaai.co"
    assert s.database_url.startswith("sqlite:///")
    assert "secret-key" not in repr(s)
    assert TOKEN not in repr(s)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "nonsense-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, "KIE_API_KEY"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", "ADMIN_IDS": "me"}, "ADMIN_IDS"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", "FREE_CREDITS": "-1"}, "FREE_CREDITS"),
        (
            {"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", "KIE_API_URL": "ftp://x"},
            "KIE_API_URL",
        ),
        # What the probe got accepted, each one breaking a money path.
        ({"KIE_TASK_TIMEOUT": "inf"}, "KIE_TASK_TIMEOUT"),
        ({"KIE_TASK_TIMEOUT": "nan"}, "KIE_TASK_TIMEOUT"),
        ({"KIE_TASK_TIMEOUT": "1e9"}, "KIE_TASK_TIMEOUT"),
        ({"KIE_POLL_INTERVAL": "0"}, "KIE_POLL_INTERVAL"),
        ({"FREE_CREDITS": str(10**23)}, "FREE_CREDITS"),
        ({"FREE_CREDITS": "²"}, "FREE_CREDITS"),
        ({"KIE_API_URL": "http://"}, "KIE_API_URL"),
        ({"KIE_UPLOAD_URL": "https://host:99999"}, "KIE_UPLOAD_URL"),
        ({"KIE_CALLBACK_URL": "https://[::1"}, "KIE_CALLBACK_URL"),
        ({"TELEGRAM_BASE_URL": "localhost:8081"}, "TELEGRAM_BASE_URL"),
        ({"TELEGRAM_BASE_FILE_URL": "http:// x"}, "TELEGRAM_BASE_FILE_URL"),
        ({"ADMIN_IDS": "1,-5"}, "ADMIN_IDS"),
        ({"ADMIN_IDS": str(2**64)}, "ADMIN_IDS"),
        ({"KIE_API_KEY": "k\nX-Evil: 1"}, "KIE_API_KEY"),
        ({"DATABASE_URL": "mysql://u:nonsense-token@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u:nonsense-token@[::1"}, "DATABASE_URL"),
        ({"RESULT_TRUSTED_ORIGINS": "http://127.0.0.1:1/path"}, "RESULT_TRUSTED_ORIGINS"),
    ],
)
def test_bad_settings_name_the_variable_never_the_secret(env: dict[str, str], names: str) -> None:
    if names not in ("TELEGRAM_BOT_TOKEN", "KIE_API_KEY") or "KIE_API_KEY" in env:
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", **env}
    with pytest.raises(ConfigError, match=names) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "nonsense-token" not in message
    assert "\n" not in message  # one line


def test_entry_point_exits_1_with_one_line_on_bad_config(tmp_path: Path) -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2] / "examples" / "kie_bot"
    result = subprocess.run(
        [sys.executable, "bot_kie.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "KIE_API_KEY": "sk-hidden"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("configuration error: TELEGRAM_BOT_TOKEN")
    assert "Traceback" not in result.stderr


# -- storage and the state machine -----------------------------------------------------------
class Recorder:
    """A Messenger that records what the state machine says."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.media: list[str] = []

    async def send_text(self, chat_id: int, text: str) -> int | None:
        self.texts.append(text)
        return len(self.texts)

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> bool:
        self.texts.append(text)
        return True

    async def send_media(self, chat_id: int, media: str, url: str, caption: str) -> bool:
        self.media.append(url)
        return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/units.sqlite3"
        async with open_balance_store(url) as store:
            s = Storage(store)
            await s.migrate()
            yield s
        return
    import secrets

    import asyncpg

    dsn = request.getfixturevalue("pg_dsn")
    name = f"kie_units_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        async with open_balance_store(dsn.rsplit("/", 1)[0] + "/" + name) as store:
            s = Storage(store)
            await s.migrate()
            await s.migrate()  # idempotent
            yield s
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_transitions_are_conditional_one_winner(storage: Storage) -> None:
    assert await storage.insert_generation(
        "g1", user_id=1, chat_id=1, lang="en", model="nano-banana", params=Params("p"), price=4
    )
    assert not await storage.insert_generation(
        "g1", user_id=1, chat_id=1, lang="en", model="nano-banana", params=Params("p"), price=4
    )
    results = await asyncio.gather(
        *(storage.transition("g1", (State.CREATED,), State.CHARGED) for _ in range(5))
    )
    assert sorted(results) == [False] * 4 + [True]
    assert await storage.transition(
        "g1", (State.CHARGED,), State.SUBMITTED, task_id="t1", submitted_at=5
    )
    gen = await storage.get("g1")
    assert gen is not None
    assert (gen.state, gen.task_id, gen.submitted_at) == (State.SUBMITTED, "t1", 5)
    assert [g.id for g in await storage.unfinished()] == ["g1"]


async def test_concurrent_refunds_credit_and_notify_once(storage: Storage) -> None:
    async with FakeKie() as kie:
        client = KieClient(kie.api_key, api_url=kie.api_url, backoff=0.01)
        messenger = Recorder()
        service = GenerationService(
            storage,
            client,
            load_catalog(),
            messenger,
            PollSettings(interval=0.02, max_interval=0.05, timeout=5),
        )
        kie.set_outcome("google/nano-banana", Outcome(never_finish=True))
        await storage.store.add_user_balance_async(7, 10, reason="test")
        model = load_catalog().model("nano-banana")
        assert model is not None
        result, balance = await service.start(
            "g2", user_id=7, chat_id=7, lang="en", model=model, params=Params("p")
        )
        assert (result, balance) == (StartResult.STARTED, 6)
        again = await service.start(
            "g2", user_id=7, chat_id=7, lang="en", model=model, params=Params("p")
        )
        assert again == (StartResult.DUPLICATE, 6)
        while not kie.tasks:
            await asyncio.sleep(0.01)
        await service.shutdown()
        gen = await storage.get("g2")
        assert gen is not None
        await asyncio.gather(*(service._refund(gen, "reason_timeout") for _ in range(4)))
        await client.aclose()
    assert await storage.store.get_user_balance_async(7) == 10
    assert sum("were returned" in text for text in messenger.texts) == 1
    refunded = await storage.get("g2")
    assert refunded is not None
    assert refunded.state is State.REFUNDED


async def test_resume_refunds_a_generation_interrupted_before_submission(
    storage: Storage,
) -> None:
    await storage.store.add_user_balance_async(8, 10, reason="test")
    await storage.store.subtract_user_balance_async(8, 4, reason="t", idempotency_key="charge:g3")
    await storage.insert_generation(
        "g3", user_id=8, chat_id=8, lang="en", model="nano-banana", params=Params("p"), price=4
    )
    await storage.transition("g3", (State.CREATED,), State.CHARGED)
    async with FakeKie() as kie:
        client = KieClient(kie.api_key, api_url=kie.api_url, backoff=0.01)
        messenger = Recorder()
        service = GenerationService(storage, client, load_catalog(), messenger)
        assert await service.resume() == 1
        await service.wait_idle(10)
        await client.aclose()
        assert kie.created() == []  # never re-created: it may exist already
    assert await storage.store.get_user_balance_async(8) == 10
    assert "interrupted" in messenger.texts[-1]


async def test_fake_kie_runs_as_a_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kie_bot.kie.fake_server",
        "--key",
        "proc-key",
        cwd=str(Path(__file__).resolve().parents[2] / "examples" / "kie_bot"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        api_url = line.decode().strip().split("=", 1)[1]
        async with KieClient("proc-key", api_url=api_url) as client:
            assert await client.get_credits() == 1000
    finally:
        proc.terminate()
        await proc.wait()


def test_offline_demo_runs_to_the_end() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2] / "examples" / "kie_bot"
    result = subprocess.run(
        [sys.executable, "-m", "kie_bot.demo"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[sendPhoto] ✅ Nano Banana" in result.stdout
    assert "Your balance: 56 credits" in result.stdout
