"""Catalog, texts, settings and the durable state machine's storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import string
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kie_bot.catalog import CatalogError, Params, load_catalog, user_price
from kie_bot.config import ConfigError, load_settings
from kie_bot.generations import GenerationService, PollSettings, StartResult
from kie_bot.kie import Api, KieClient
from kie_bot.kie.fake_server import FakeKie, Outcome
from kie_bot.request_body import build_request
from kie_bot.storage import State, Storage, now_ms
from kie_bot.tasks import GROUPS, INPUT_KINDS, TASKS
from kie_bot.texts import LANGUAGES, lang_for, t
from safe_polling.db import open_balance_store

TOKEN = "123456:" + "Ab1_" * 9  # a well-formed fake, built so no scanner flags it


# -- catalog -------------------------------------------------------------------------------
def test_bundled_catalog_covers_the_required_models() -> None:
    catalog = load_catalog()
    slugs = {m.slug for m in catalog.models}
    assert {"google/nano-banana", "flux-kontext-pro", "veo3_fast", "veo3", "V4_5"} <= slugs
    assert {m.api for m in catalog.models} == set(Api)
    assert catalog.groups == GROUPS  # every group has models, in order
    assert {m.type for m in catalog.models} == set(TASKS) - {"v2v"}  # KIE's table has no v2v
    kinds = {spec.kind for m in catalog.models for spec in m.inputs}
    assert kinds == set(INPUT_KINDS)
    assert all(
        len(f"gen:go:{'0' * 32}") <= 64 and len(f"model:{m.id}") <= 64 for m in catalog.models
    )


def _reference_table() -> dict[str, Decimal]:
    """Model id -> KIE's highest price, from reference/kie-models.md (../shared in CI)."""
    here = Path(__file__).resolve()
    found = [
        root / "shared" / "reference" / "kie-models.md"
        for root in (here.parents[3], here.parents[4])
        if (root / "shared" / "reference" / "kie-models.md").is_file()
    ]
    assert found, "reference/kie-models.md not found beside the checkout (../shared)"
    table = {}
    for line in found[0].read_text(encoding="utf-8").splitlines():
        row = re.match(r"\| `([^`]+)` \| \w+ \| (.*) \|$", line)
        if row:
            prices = re.findall(r"([\d.]+) cr", row.group(2))
            table[row.group(1)] = max(Decimal(p) for p in prices)
    return table


def test_catalog_sells_every_model_of_kie_market_table_at_its_price() -> None:
    table = _reference_table()
    assert len(table) == 73
    market = {m.slug: m for m in load_catalog().models if m.api is Api.MARKET}
    assert set(table) <= set(market)
    for slug, highest in table.items():
        kie = {v.kie for v in market[slug].variants}
        assert max(kie) <= highest, slug
        assert min(kie) > 0, slug


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


MODEL = "{id: a, title: A, type: t2i, slug: s, kie: 1}"
PACKAGES = "packages: [{id: p, stars: 1, credits: 1}]"
TEXT = "{kind: text, field: t}"


def one(fields: str) -> str:
    """A models list of one entry with id ``a`` and these *fields*."""
    return f"[{{id: a, title: A, {fields}}}]"


@pytest.mark.parametrize(
    ("models", "error"),
    [
        ("[]", "catalog.yaml: no models"),
        (one("type: t2i, slug: s, kie: 1, colour: red"), "model 'a': unknown field 'colour'"),
        (one("type: t2i, slug: s"), "model 'a': needs a price"),
        (one("type: t2i, slug: s, variants: [{label: x}]"), "model 'a' variant 0: no price"),
        (one("type: t2i, slug: s, kie: 0"), "model 'a': 'kie' must be a positive"),
        (one("type: t2i, slug: s, kie: .nan"), "model 'a': 'kie' must be a positive"),
        (one("type: t2i, slug: s, kie: true"), "model 'a': 'kie' must be KIE's price"),
        (one("type: t2i, slug: s, kie: 1, api: nope"), "model 'a': api must be one of"),
        (one("type: gif, slug: s, kie: 1"), "model 'a': type must be one of"),
        (
            one("type: t2i, slug: s, kie: 1, inputs: [{kind: sticker, field: f}]"),
            "model 'a': input kind 'sticker' cannot be collected in the chat",
        ),
        (
            one("type: t2i, slug: s, variants: [{label: x, kie: 1}, {label: y, kie: 2}]"),
            "model 'a': variants must differ",
        ),
        (one("type: t2i, slug: s, kie: 1, inputs: []"), "model 'a': inputs must be one or more"),
        (
            one(f"type: tts, slug: s, kie: 1, inputs: [{TEXT}, {TEXT}]"),
            "model 'a': inputs must be one or more, with at most one text",
        ),
        (f"[{MODEL}, {MODEL}]", "catalog.yaml: duplicate model id 'a'"),
        (one("type: t2i, slug: s, kie: 1, media: hologram"), "model 'a': group must"),
        ("[{id: 'a:b', title: A, type: t2i, slug: s, kie: 1}]", "model 'a:b': id must be"),
        ("[{id: a, title: A, type: t2i, slug: s, kie: 1", "catalog.yaml: cannot be read"),
    ],
)  # fmt: skip
def test_bad_catalog_fails_with_one_line_naming_the_entry(
    tmp_path: Path, models: str, error: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(f"{PACKAGES}\nmodels: {models}\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert message.startswith(error)
    assert "\n" not in message


def run_entry_point(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python bot_kie.py`` with only *env* (and PATH) set."""
    return subprocess.run(
        [sys.executable, "bot_kie.py"],
        cwd=Path(__file__).resolve().parents[2] / "examples" / "kie_bot",
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_entry_point_exits_1_with_one_line_on_a_bad_catalog(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text(f"{PACKAGES}\nmodels: [{{id: cheap, title: C, type: t2i, slug: s}}]\n")
    result = run_entry_point(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "KIE_API_KEY": "sk-hidden",
            "CATALOG_FILE": str(bad),
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "configuration error: model 'cheap': needs a price: either 'kie' or 'variants' (not both)"
    )


KIE_PRICES = sorted({v.kie for m in load_catalog().models for v in m.variants})


@given(st.decimals(min_value=1, max_value=100, places=3))
def test_no_user_price_is_below_kie_cost(markup: Decimal) -> None:
    for kie in KIE_PRICES:
        price = user_price(kie, markup)
        assert price >= kie * markup
        assert price < kie * markup + 1  # rounded up to the next credit, no further


@pytest.mark.parametrize("markup", ["1", "1.5", "2.37"])
def test_catalog_prices_every_variant_with_the_markup(markup: str) -> None:
    for model in load_catalog(markup=Decimal(markup)).models:
        for variant in model.variants:
            assert variant.price == user_price(variant.kie, Decimal(markup)), model.id


def test_markup_below_one_is_refused_and_prices_round_up() -> None:
    with pytest.raises(CatalogError, match="PRICE_MARKUP must be at least 1"):
        load_catalog(markup=Decimal("0.99"))
    with pytest.raises(ConfigError, match="PRICE_MARKUP"):
        load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", "PRICE_MARKUP": "0.5"})
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "KIE_API_KEY": "k", "PRICE_MARKUP": "1.5"}
    model = load_catalog(markup=load_settings(env).price_markup).model("nano-banana-pro")
    assert model is not None
    assert [v.price for v in model.variants] == [22, 29]  # 14.14 * 1.5 = 21.21, 18.86 * 1.5


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
    result = run_entry_point({"KIE_API_KEY": "sk-hidden"})
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
    assert [g.id for g in await storage.claimable(now_ms())] == ["g1"]


async def test_a_generation_is_claimed_by_one_worker_until_released_or_expired(
    storage: Storage,
) -> None:
    now = now_ms()
    assert await storage.insert_generation(
        "c1", user_id=1, chat_id=1, lang="en", model="nano-banana", params=Params("p"), price=4
    )
    assert [g.id for g in await storage.claimable(now)] == ["c1"]
    results = await asyncio.gather(
        *(storage.claim("c1", f"w{n}", now + 60_000, now) for n in range(5))
    )
    assert sorted(results) == [False] * 4 + [True]  # one worker gets it
    holder = f"w{results.index(True)}"
    assert await storage.claimable(now) == []
    assert await storage.renew(["c1"], holder, now + 90_000) == {"c1"}
    assert await storage.renew(["c1"], "w-other", now + 90_000) == set()
    assert [g.id for g in await storage.claimable(now + 90_001)] == ["c1"]  # expired
    await storage.release("w-other")  # not its claim: nothing changes
    assert await storage.claimable(now) == []
    await storage.release(holder)
    assert await storage.claim("c1", "w-next", now + 60_000, now)
    await storage.transition("c1", (State.CREATED,), State.CANCELLED)
    assert await storage.claimable(now + 120_000) == []  # finished: nothing to pick up


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
        await service.shutdown()
        await client.aclose()
        assert kie.created() == []  # never re-created: it may exist already
    assert await storage.store.get_user_balance_async(8) == 10
    assert "interrupted" in messenger.texts[-1]


# Status checks every 20 ms, claims renewed every 50 ms: several rounds in a test's second.
FAST_POLL = PollSettings(interval=0.02, max_interval=0.05, timeout=20)


@asynccontextmanager
async def never_finishing_kie() -> AsyncIterator[tuple[FakeKie, KieClient]]:
    """The fake KIE, whose Nano Banana tasks run until finished by hand, and a client."""
    async with FakeKie() as kie:
        kie.set_outcome("google/nano-banana", Outcome(never_finish=True))
        async with KieClient(kie.api_key, api_url=kie.api_url, backoff=0.01) as client:
            yield kie, client


async def test_two_workers_run_a_generation_once_and_take_over_a_stopped_ones(
    storage: Storage,
) -> None:
    """What SAFE_POLLING_QUEUE needs: every replica resumes, each generation runs once."""
    await storage.store.add_user_balance_async(9, 10, reason="test")
    model = load_catalog().model("nano-banana")
    assert model is not None
    async with never_finishing_kie() as (kie, client):
        first, second = Recorder(), Recorder()
        one = GenerationService(storage, client, load_catalog(), first, FAST_POLL)
        two = GenerationService(storage, client, load_catalog(), second, FAST_POLL)
        await one.resume()
        assert await one.start(
            "g4", user_id=9, chat_id=9, lang="en", model=model, params=Params("p")
        ) == (StartResult.STARTED, 6)
        assert await two.resume() == 0  # held by the first worker
        while not kie.tasks:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # several renewal rounds of both workers
        assert (one.running, two.running) == (1, 0)

        await one.shutdown()  # SIGTERM: the claim is released, the second takes over
        while not two.running:
            await asyncio.sleep(0.01)
        (task_id,) = kie.tasks
        kie.finish(task_id)
        await two.wait_idle(10)
        await two.shutdown()
    assert len(kie.created()) == 1
    assert (first.media, len(second.media)) == ([], 1)
    gen = await storage.get("g4")
    assert gen is not None
    assert gen.state is State.DONE
    assert await storage.store.get_user_balance_async(9) == 6


async def test_a_worker_stops_a_generation_another_took_over(storage: Storage) -> None:
    """A worker that could not renew in time (its claim ran out) lets go of the generation."""
    await storage.store.add_user_balance_async(10, 10, reason="test")
    model = load_catalog().model("nano-banana")
    assert model is not None
    async with never_finishing_kie() as (kie, client):
        one = GenerationService(storage, client, load_catalog(), Recorder(), FAST_POLL)
        await one.resume()
        await one.start("g5", user_id=10, chat_id=10, lang="en", model=model, params=Params("p"))
        while not kie.tasks:
            await asyncio.sleep(0.01)
        assert await storage.claim("g5", "another", now_ms() + 60_000, now_ms() + 120_000)
        while one.running:  # its next renewal finds the claim gone and stops the task
            await asyncio.sleep(0.01)
        await one.shutdown()
    gen = await storage.get("g5")
    assert gen is not None
    assert gen.state is State.SUBMITTED  # left to the worker that holds it


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
    # Then one model of every group, each to its result.
    catalog = load_catalog()
    for group in catalog.groups:
        model = min(catalog.in_category(group), key=lambda m: m.price)
        assert f"--- {group}: {model.title}" in result.stdout
        assert f"{model.title}: done." in result.stdout
    for method in ("sendPhoto", "sendVideo", "sendAudio"):
        assert f"[{method}]" in result.stdout
    assert "Hello from the fake KIE transcription." in result.stdout
    assert "went wrong" not in result.stdout
