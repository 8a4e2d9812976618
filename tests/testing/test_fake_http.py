"""Raw HTTP behaviour of the fake: envelope, token rules, body formats, errors."""

from __future__ import annotations

import json

import httpx
import pytest

from safe_polling.testing import FakeBotAPI


async def test_envelope_ok_and_get_me(http: httpx.AsyncClient, fake_bot_api: FakeBotAPI) -> None:
    response = await http.post(f"/bot{fake_bot_api.token}/getMe")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    me = body["result"]
    assert me["id"] == int(fake_bot_api.token.split(":")[0])
    assert me["is_bot"] is True
    assert me["first_name"]
    assert me["username"] == "fake_test_bot"
    assert me["can_join_groups"] is True


async def test_error_envelope_has_same_http_status(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    response = await http.post(f"/bot{fake_bot_api.token}/sendMessage", json={"text": "hi"})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat_id is empty",
    }


async def test_method_names_are_case_insensitive(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    response = await http.get(f"/bot{fake_bot_api.token}/GETME")
    assert response.json()["result"]["is_bot"] is True
    assert fake_bot_api.calls[-1].method == "getMe"


async def test_unknown_method_is_404_not_found(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    response = await http.post(f"/bot{fake_bot_api.token}/sendTelepathy", json={"x": 1})
    assert response.status_code == 404
    assert response.json()["description"] == "Not Found"
    assert fake_bot_api.calls[-1].status == 404


@pytest.mark.parametrize("path", ["/", "/bot", "/botnothing", "/somewhere/else"])
async def test_paths_outside_the_api_are_404(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 404
    assert response.json()["ok"] is False


@pytest.mark.parametrize(
    "token",
    [
        "0123456:" + "a" * 35,  # starts with '0'
        "123456:" + "a" * 80,  # longer than 80
        "123456%2F:" + "a" * 35,  # contains '/' (URL-encoded in the path)
        "123456" + "a" * 35,  # no ':'
    ],
)
async def test_malformed_tokens_are_rejected(http: httpx.AsyncClient, token: str) -> None:
    response = await http.post(f"/bot{token}/getMe")
    assert response.status_code == 401
    assert response.json()["description"] == "Unauthorized: invalid token specified"


async def test_any_well_formed_token_is_accepted_with_separate_state(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    other = fake_bot_api.make_token()
    assert other != fake_bot_api.token
    fake_bot_api.inject_message(1, "for the default bot")
    response = await http.post(f"/bot{other}/getUpdates")
    assert response.json() == {"ok": True, "result": []}
    response = await http.post(f"/bot{other}/getMe")
    assert response.json()["result"]["id"] == int(other.split(":")[0])
    assert len(fake_bot_api.pending_updates()) == 1


async def test_configured_token_rejects_others() -> None:
    token = "123456789:AAH" + "x" * 32
    async with (
        FakeBotAPI(token=token) as api,
        httpx.AsyncClient(base_url=api.url) as http,
    ):
        assert api.token == token
        ok = await http.post(f"/bot{token}/getMe")
        assert ok.status_code == 200
        wrong = await http.post(f"/bot{api.make_token()}/getMe")
        assert wrong.status_code == 401
        assert wrong.json()["description"] == "Unauthorized"


def test_malformed_configured_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="malformed") as info:
        FakeBotAPI(token="0secret-token")
    assert "0secret-token" not in str(info.value)


async def test_form_body_values_are_json_decoded(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    response = await http.post(
        f"/bot{fake_bot_api.token}/sendMessage",
        data={"chat_id": "42", "text": "123", "reply_markup": json.dumps(markup)},
    )
    result = response.json()["result"]
    assert result["text"] == "123"  # free text stays text even if it looks like JSON
    assert result["chat"]["id"] == 42
    assert result["reply_markup"] == markup
    assert fake_bot_api.sent(42)[0].params["chat_id"] == 42


async def test_query_string_parameters_on_get(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    response = await http.get(
        f"/bot{fake_bot_api.token}/sendMessage", params={"chat_id": 7, "text": "hello"}
    )
    assert response.json()["result"]["text"] == "hello"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b"\xff\xfe"),
        ("multipart/form-data; boundary=zz", b"--zz\r\ngarbage"),
    ],
)
async def test_junk_bodies_are_400_not_500(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI, content_type: str, body: bytes
) -> None:
    response = await http.post(
        f"/bot{fake_bot_api.token}/sendMessage",
        content=body,
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400
    assert response.json()["description"].startswith("Bad Request: ")


@pytest.mark.parametrize(
    ("method", "params", "description"),
    [
        ("sendMessage", {"chat_id": 1}, "Bad Request: message text is empty"),
        ("sendMessage", {"chat_id": 1, "text": "   "}, "Bad Request: message text is empty"),
        ("sendMessage", {"text": "x"}, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": "@nobody", "text": "x"}, "Bad Request: chat not found"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        ("sendPhoto", {"chat_id": 1}, "Bad Request: there is no photo in the request"),
        (
            "sendPhoto",
            {"chat_id": 1, "photo": "no-such-file-id"},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        ("sendChatAction", {"chat_id": 1, "action": "dancing"}, None),
        ("editMessageText", {"chat_id": 1, "message_id": 99, "text": "x"}, None),
        ("deleteMessage", {"chat_id": 1, "message_id": 99}, None),
        ("getFile", {"file_id": "nope"}, "Bad Request: invalid file_id"),
        (
            "sendMessage",
            {"chat_id": 1, "text": "<b>bold", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            "sendMessage",
            {"chat_id": 1, "text": "<blink>x</blink>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "blink" at byte offset 0',
        ),
        (
            "sendMessage",
            {
                "chat_id": 1,
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "d" * 65}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ("setMyCommands", {"commands": [{"command": "Bad-Name", "description": "x"}]}, None),
    ],
)
async def test_bad_requests_match_the_real_server(
    http: httpx.AsyncClient,
    fake_bot_api: FakeBotAPI,
    method: str,
    params: dict[str, object],
    description: str | None,
) -> None:
    response = await http.post(f"/bot{fake_bot_api.token}/{method}", json=params)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["error_code"] == 400
    assert body["description"].startswith("Bad Request: ")
    if description is not None:
        assert body["description"] == description
    assert fake_bot_api.sent() == []


async def test_calls_record_every_request_in_order(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    await http.post(f"/bot{token}/getMe")
    await http.post(f"/bot{token}/sendMessage", json={"chat_id": 5, "text": "a"})
    await http.post(f"/bot{token}/sendMessage", json={"chat_id": 5})
    calls = fake_bot_api.calls
    assert [(c.method, c.status) for c in calls] == [
        ("getMe", 200),
        ("sendMessage", 200),
        ("sendMessage", 400),
    ]
    assert calls[1].params == {"chat_id": 5, "text": "a"}
    assert calls[1].token == token
    assert token not in repr(calls[1])


async def test_fail_next_answers_planned_errors(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    token = fake_bot_api.token
    fake_bot_api.fail_next("sendmessage", retry_after=7, times=2)
    fake_bot_api.fail_next("getUpdates", 502)
    for _ in range(2):
        response = await http.post(f"/bot{token}/sendMessage", json={"chat_id": 1, "text": "x"})
        assert response.status_code == 429
        assert response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }
    response = await http.post(f"/bot{token}/sendMessage", json={"chat_id": 1, "text": "x"})
    assert response.status_code == 200
    response = await http.post(f"/bot{token}/getUpdates")
    assert (response.status_code, response.json()["description"]) == (502, "Bad Gateway")
    assert [s.method for s in fake_bot_api.sent()] == ["sendMessage"]


async def test_html_entities_use_utf16_offsets(
    http: httpx.AsyncClient, fake_bot_api: FakeBotAPI
) -> None:
    response = await http.post(
        f"/bot{fake_bot_api.token}/sendMessage",
        json={
            "chat_id": 1,
            "text": '👍 <b>bold <a href="https://t.me">link</a></b> &lt;ok&gt;',
            "parse_mode": "HTML",
        },
    )
    result = response.json()["result"]
    assert result["text"] == "👍 bold link <ok>"
    assert result["entities"] == [
        {"type": "bold", "offset": 3, "length": 9},
        # Telegram normalizes link targets (a "/" path is added).
        {"type": "text_link", "url": "https://t.me/", "offset": 8, "length": 4},
    ]


def test_injected_updates_shape(fake_bot_api: FakeBotAPI) -> None:
    command = fake_bot_api.inject_message(5, "/buy@fake_test_bot 10", chat_id=-100777)
    message = command["message"]
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 18}]
    assert message["chat"]["type"] == "supergroup"
    assert message["from"]["id"] == 5
    assert "entities" not in fake_bot_api.inject_message(5, "no /command here")["message"]
    first, second = (u["update_id"] for u in fake_bot_api.pending_updates())
    assert second == first + 1
