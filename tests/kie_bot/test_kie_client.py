"""The KIE client against the fake KIE server: shapes, error mapping, safe retries, upload."""

from __future__ import annotations

import httpx
import pytest

from kie_bot.catalog import Params, load_catalog
from kie_bot.kie import (
    Api,
    KieAuthError,
    KieClient,
    KieError,
    KieGenerationFailed,
    KieInsufficientCredits,
    KieMaintenance,
    KieRateLimited,
    KieServerError,
    KieTransportError,
    KieValidationError,
    TaskState,
)
from kie_bot.kie.client import FAMILIES, text_of
from kie_bot.kie.fake_server import TRANSCRIPT, FakeKie, Outcome, tiny_png
from kie_bot.request_body import build_request

MARKET_BODY = {"model": "google/nano-banana", "input": {"prompt": "a cat", "image_size": "1:1"}}
CREATE = FAMILIES[Api.MARKET].create
STATUS = FAMILIES[Api.MARKET].status


async def poll(client: KieClient, api: Api, task_id: str, limit: int = 10) -> object:
    for _ in range(limit):
        status = await client.get_status(api, task_id)
        if status.state is not TaskState.PENDING:
            return status
    raise AssertionError("task never finished")


async def test_market_task_success_parses_result_json(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    fake_kie.set_outcome("google/nano-banana", Outcome(polls=2))
    task_id = await kie_client.create_task(Api.MARKET, MARKET_BODY)
    first = await kie_client.get_status(Api.MARKET, task_id)
    assert first.state is TaskState.PENDING
    assert first.stage == "queuing"
    status = await poll(kie_client, Api.MARKET, task_id)
    assert status.state is TaskState.SUCCESS  # type: ignore[attr-defined]
    (url,) = status.result_urls  # type: ignore[attr-defined]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == tiny_png()
    assert fake_kie.created("market")[0].body == MARKET_BODY
    assert all(r.authorized for r in fake_kie.requests if r.path.startswith("/api/"))


@pytest.mark.parametrize(
    ("api", "body", "suffix", "count"),
    [
        (Api.VEO, {"prompt": "p", "model": "veo3_fast", "aspectRatio": "16:9"}, ".mp4", 1),
        (Api.GPT4O, {"prompt": "p", "size": "1:1", "nVariants": 1}, ".png", 1),
        (Api.FLUX, {"prompt": "p", "model": "flux-kontext-pro", "aspectRatio": "1:1"}, ".png", 1),
        (
            Api.SUNO,
            {"prompt": "p", "customMode": False, "instrumental": False, "model": "V4_5"},
            ".mp3",
            2,
        ),
    ],
)
async def test_model_specific_apis_are_normalised(
    kie_client: KieClient, api: Api, body: dict[str, object], suffix: str, count: int
) -> None:
    task_id = await kie_client.create_task(api, body)
    status = await poll(kie_client, api, task_id)
    assert status.state is TaskState.SUCCESS  # type: ignore[attr-defined]
    urls = status.result_urls  # type: ignore[attr-defined]
    assert len(urls) == count
    assert all(u.endswith(suffix) for u in urls)


@pytest.mark.parametrize("api", list(Api))
async def test_failed_generation_reports_kie_message(
    fake_kie: FakeKie, kie_client: KieClient, api: Api
) -> None:
    fake_kie.next_outcome(Outcome(polls=0, fail="content policy"))
    task_id = await kie_client.create_task(api, {"prompt": "p", "model": "m"})
    status = await kie_client.get_status(api, task_id)
    assert status.state is TaskState.FAILED
    assert status.error == "content policy"


@pytest.mark.parametrize(
    ("code", "error", "http_status"),
    [
        (401, KieAuthError, 401),
        (402, KieInsufficientCredits, None),
        (402, KieInsufficientCredits, 402),
        (422, KieValidationError, None),
        (429, KieRateLimited, 429),
        (455, KieMaintenance, None),
        (500, KieServerError, 500),
        (501, KieGenerationFailed, None),
        (433, KieError, None),
    ],
)
async def test_create_errors_are_typed_and_never_retried(
    fake_kie: FakeKie,
    kie_client: KieClient,
    code: int,
    error: type[KieError],
    http_status: int | None,
) -> None:
    fake_kie.next_outcome(Outcome(create_code=code, http_status=http_status))
    with pytest.raises(error) as caught:
        await kie_client.create_task(Api.MARKET, MARKET_BODY)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.message
    assert len(fake_kie.created()) == 1  # a create is never repeated
    assert fake_kie.tasks == {}


async def test_message_key_is_accepted_as_well_as_msg(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    fake_kie.next_outcome(Outcome(create_code=402, use_message_key=True))
    with pytest.raises(KieInsufficientCredits) as caught:
        await kie_client.create_task(Api.MARKET, MARKET_BODY)
    assert caught.value.message == "Credits insufficient"


@pytest.mark.parametrize(("code", "http_status"), [(429, 429), (455, None), (500, None)])
async def test_status_queries_retry_transient_errors(
    fake_kie: FakeKie, kie_client: KieClient, code: int, http_status: int | None
) -> None:
    task_id = await kie_client.create_task(Api.MARKET, MARKET_BODY)
    fake_kie.fail_requests(STATUS, code, times=2, http_status=http_status)
    status = await kie_client.get_status(Api.MARKET, task_id)
    assert status.state is TaskState.PENDING
    assert len([r for r in fake_kie.requests if r.path == STATUS]) == 3


async def test_status_gives_up_after_the_attempts(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    fake_kie.fail_requests(STATUS, 455, times=10)
    with pytest.raises(KieMaintenance):
        await kie_client.get_status(Api.MARKET, "task_x")
    assert len([r for r in fake_kie.requests if r.path == STATUS]) == 4


async def test_unknown_task_is_a_validation_error_not_retried(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    with pytest.raises(KieValidationError) as caught:
        await kie_client.get_status(Api.MARKET, "task_unknown")
    assert caught.value.message == "recordInfo is null"
    assert len(fake_kie.requests) == 1


async def test_credit_query_retries_then_reads_number(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    fake_kie.credits = 1234
    fake_kie.fail_requests("/api/v1/chat/credit", 500, times=1, http_status=500)
    assert await kie_client.get_credits() == 1234


async def test_bad_key_is_401_and_never_leaks(fake_kie: FakeKie) -> None:
    secret = "sk-very-secret-kie-key"
    async with KieClient(secret, api_url=fake_kie.api_url, backoff=0.01) as client:
        with pytest.raises(KieAuthError) as caught:
            await client.get_credits()
        assert secret not in repr(client)
    assert secret not in str(caught.value)
    assert caught.value.__cause__ is None
    assert not fake_kie.requests[0].authorized


async def test_slow_create_is_reported_not_retried(fake_kie: FakeKie) -> None:
    fake_kie.next_outcome(Outcome(delay=1.0))
    client = KieClient(fake_kie.api_key, api_url=fake_kie.api_url, timeout=0.2, backoff=0.01)
    async with client:
        with pytest.raises(KieTransportError) as caught:
            await client.create_task(Api.MARKET, MARKET_BODY)
    assert caught.value.maybe_sent is True
    assert len(fake_kie.created()) == 1


async def test_unreachable_server_is_a_transport_error_not_sent(fake_kie: FakeKie) -> None:
    url = fake_kie.api_url
    await fake_kie.stop()
    async with KieClient("k", api_url=url, backoff=0.01, attempts=2) as client:
        with pytest.raises(KieTransportError) as caught:
            await client.create_task(Api.MARKET, MARKET_BODY)
    assert caught.value.maybe_sent is False


async def test_upload_returns_download_url_serving_the_bytes(
    fake_kie: FakeKie, kie_client: KieClient
) -> None:
    url = await kie_client.upload_file(b"photo-bytes", "photo.jpg")
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == b"photo-bytes"
    assert url.startswith(fake_kie.upload_url)
    assert await kie_client.download_url(url) == url


def test_every_api_family_has_one_record() -> None:
    assert set(FAMILIES) == set(Api)
    assert len({f.create for f in FAMILIES.values()}) == len(Api)


# The catalog's result kind -> what the fake's URLs end with (a transcript is text).
EXTENSIONS = {"photo": ".png", "video": ".mp4", "audio": ".mp3"}


async def test_fake_answers_every_catalog_model_with_results_of_its_kind(
    kie_client: KieClient,
) -> None:
    # The fake decides by its own table of slug words, the bot by catalog.yaml: a model
    # filed under the wrong kind on either side fails here.
    for model in load_catalog().models:
        body = build_request(model, Params("p", None, ("https://files.example/x.jpg",)))
        task_id = await kie_client.create_task(model.api, body)
        status = await poll(kie_client, model.api, task_id)
        urls = status.result_urls  # type: ignore[attr-defined]
        assert urls, model.id
        if model.media == "text":
            assert [text_of(u) for u in urls] == [TRANSCRIPT], model.id
        else:
            assert all(u.endswith(EXTENSIONS[model.media]) for u in urls), model.id
    midjourney = await kie_client.create_task(
        Api.MARKET, {"model": "midjourney/api", "input": {"prompt": "p"}}
    )
    grid = await poll(kie_client, Api.MARKET, midjourney)
    assert len(grid.result_urls) == 4  # type: ignore[attr-defined]  # several results per task
