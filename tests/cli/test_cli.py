"""The safe-polling command: in-process main() for most cases, real subprocesses for some.

``main`` runs its own event loop, so in-process calls go through a worker thread while the
fake Bot API keeps serving on the test's loop.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from tests.preflight.conftest import PASSWORD, assert_no_secrets

from safe_polling._cli import main
from safe_polling._preflight import PASSED_VERDICT
from safe_polling.testing import FakeBotAPI, make_token

ROOT = Path(__file__).parents[2]


async def _main(
    args: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    with anyio.fail_after(30):
        code = await anyio.to_thread.run_sync(lambda: main(args, env=env))
    captured = capsys.readouterr()
    assert_no_secrets(captured.out + captured.err, *_tokens(env))
    return code, captured.out


def _tokens(env: dict[str, str]) -> list[str]:
    return [value for key, value in env.items() if "TOKEN" in key]


def _env(api: FakeBotAPI) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_BASE_URL": api.base_url}


async def test_preflight_ok(fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await _main(["preflight", "--no-render"], _env(fake_bot_api), capsys)
    assert code == 0
    assert out.rstrip().endswith(PASSED_VERDICT)
    assert "✅ lease" in out  # the default file lease from lease_from_env


async def test_preflight_json_failure(
    fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str], dead_port: int
) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:{dead_port}/db"
    args = ["preflight", "--json", "--no-render", "--database-url", url, "--timeout", "2"]
    code, out = await _main(args, {**_env(fake_bot_api), "SAFE_POLLING_LEASE": "none"}, capsys)
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["verdict"] == "❌ Preflight failed: 1 problem(s)"
    assert {c["name"]: c["status"] for c in data["checks"]}["database"] == "fail"


async def test_preflight_bad_lease_config(
    fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**_env(fake_bot_api), "SAFE_POLLING_LEASE": "zookeeper"}
    code, out = await _main(["preflight", "--no-render"], env, capsys)
    assert code == 1
    assert "❌ lease" in out
    assert "SAFE_POLLING_LEASE" in out


async def test_webhook_info(fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str]) -> None:
    fake_bot_api.set_webhook("https://bot.example.com/secret-hook-path")
    fake_bot_api.inject_message(1, "hi")
    code, out = await _main(["webhook-info"], _env(fake_bot_api), capsys)
    assert code == 0
    assert out.startswith("⚠️ webhook")
    assert "https://bot.example.com/…" in out
    assert "1 update(s)" in out
    assert "secret-hook-path" not in out
    code, out = await _main(["webhook-info", "--json"], _env(fake_bot_api), capsys)
    data = json.loads(out)
    assert (data["webhook_set"], data["pending_update_count"]) == (True, 1)


@pytest.mark.parametrize("drop", [True, False])
async def test_reset_webhook(
    fake_bot_api: FakeBotAPI, capsys: pytest.CaptureFixture[str], drop: bool
) -> None:
    fake_bot_api.set_webhook("https://bot.example.com/hook")
    fake_bot_api.inject_message(1, "a")
    fake_bot_api.inject_message(1, "b")
    flag = "--drop-pending" if drop else "--keep-pending"
    code, out = await _main(["reset-webhook", flag], _env(fake_bot_api), capsys)
    assert code == 0
    fate = "dropped" if drop else "kept"
    assert out.strip() == (
        f"✅ deleteWebhook done: was https://bot.example.com/…; 2 pending update(s) {fate}"
    )
    (call,) = fake_bot_api.calls_to("deleteWebhook")
    assert call.params.get("drop_pending_updates") in (drop, str(drop).lower())
    assert len(fake_bot_api.pending_updates()) == (0 if drop else 2)
    code, out = await _main(["webhook-info", "--json"], _env(fake_bot_api), capsys)
    assert json.loads(out)["webhook_set"] is False


async def test_reset_webhook_rejected_token(capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeBotAPI(token=make_token()) as api:
        env = {**_env(api), "TELEGRAM_BOT_TOKEN": make_token()}
        code, out = await _main(["reset-webhook", "--json"], env, capsys)
        assert api.calls_to("deleteWebhook") == []
    assert code == 1
    assert "token rejected by Telegram" in json.loads(out)["error"]


async def test_commands_without_token(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("webhook-info", "reset-webhook"):
        code, out = await _main([command], {}, capsys)
        assert code == 1
        assert "no bot token" in out


def test_check_render_default_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["check-render", "--require-env", "KIE_API_KEY"], env={}) == 0
    assert capsys.readouterr().out.strip() == "✅ render.yaml is valid"
    assert main(["check-render", "--json", "--require-env", "NOT_THERE"], env={}) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert "NOT_THERE is required" in data["findings"][0]["message"]


def test_usage_errors_exit_2_without_echoing_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    token = make_token()
    for argv in (
        [],
        ["launch"],
        ["preflight", "--tokn", token],
        ["preflight", "--timeout", "soon"],
        ["preflight", "--database-url", f"postgresql://u:{PASSWORD}@h/d", "extra"],
        ["reset-webhook", "--drop-pending", "--keep-pending"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv, env={})
        assert exit_info.value.code == 2
        captured = capsys.readouterr()
        assert "usage: safe-polling" in captured.err
        assert_no_secrets(captured.out + captured.err, token)


async def _subprocess(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if "TOKEN" not in k and "URL" not in k}
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "safe_polling", *args],
            env={**base, **env},
            cwd=ROOT,
            check=False,
        )
    out = done.stdout.decode() + done.stderr.decode()
    assert_no_secrets(out, *_tokens(env))
    return done.returncode, out


async def test_subprocess_preflight_and_json(fake_bot_api: FakeBotAPI) -> None:
    code, out = await _subprocess(["preflight"], _env(fake_bot_api))
    assert code == 0, out
    assert "✅ render.yaml" in out  # ./render.yaml of the repository is checked by default
    assert out.rstrip().endswith(PASSED_VERDICT)
    code, out = await _subprocess(["webhook-info", "--json"], _env(fake_bot_api))
    assert code == 0
    assert json.loads(out)["webhook_set"] is False


async def test_subprocess_rejected_token_and_usage_error() -> None:
    async with FakeBotAPI(token=make_token()) as api:
        code, out = await _subprocess(["preflight"], {**_env(api), "BOT_TOKEN": make_token()})
        # TELEGRAM_BOT_TOKEN is the one in use; BOT_TOKEN differs: a warning, not a failure.
        assert code == 0, out
        code, out = await _subprocess(
            ["preflight", "--no-render"],
            {"BOT_TOKEN": make_token(), "TELEGRAM_BASE_URL": api.base_url},
        )
    assert code == 1
    assert "token rejected by Telegram" in out
    code, out = await _subprocess(["nonsense"], {})
    assert code == 2
    code, out = await _subprocess(["check-render", "render.yaml"], {})
    assert (code, out.strip()) == (0, "✅ render.yaml is valid")
