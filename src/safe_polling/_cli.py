"""The ``safe-polling`` command: preflight, reset-webhook, webhook-info, check-render, lint.

Exit codes: 0 ok, 1 a check failed, 2 usage error. Output never contains the bot token or
a database password; ``--json`` prints one JSON document for machines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, Protocol

import anyio

from safe_polling._preflight._report import CheckResult, CheckStatus, PreflightCheck
from safe_polling._preflight._runner import LeaseLike, run_preflight
from safe_polling._preflight._telegram import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    TOKEN_ENV,
    ApiError,
    ApiUnreachable,
    BotApi,
    check_token_shape,
    resolve_token,
    webhook_host,
)
from safe_polling._redaction import mask_secrets
from safe_polling.db import mask_database_url as mask_url

# Anything shaped like a bot token, wherever it shows up (e.g. argparse echoing a typo).
_TOKEN_LIKE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors never echo a token or a URL password."""

    def error(self, message: str) -> NoReturn:
        message = _TOKEN_LIKE.sub("***", message)
        message = " ".join(mask_url(word) for word in message.split(" "))
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``nan`` and ``inf`` would hang or crash a check)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, not {text[:40]!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the ``safe-polling`` argument parser."""
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    common.add_argument(
        "--base-url",
        help=f"Bot API base URL as in PTB (default ${BASE_URL_ENV} or {DEFAULT_BASE_URL})",
    )
    common.add_argument(
        "--token", help=f"bot token (default ${TOKEN_ENV} or $BOT_TOKEN; prefer the env)"
    )
    common.add_argument("--timeout", type=_seconds, default=5.0, help="seconds per check")
    parser = _Parser(prog="safe-polling", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    pre = sub.add_parser("preflight", parents=[common], help="check everything the bot needs")
    pre.add_argument("--database-url", help="default $DATABASE_URL")
    pre.add_argument("--require-database", action="store_true", help="fail without one")
    pre.add_argument("--render-yaml", metavar="PATH", help="render.yaml to validate")
    pre.add_argument("--no-render", action="store_true", help="do not validate render.yaml")
    pre.add_argument("--no-lease", action="store_true", help="do not check the lease")
    reset = sub.add_parser(
        "reset-webhook", parents=[common], help="deleteWebhook once, e.g. before a deploy"
    )
    drop = reset.add_mutually_exclusive_group()
    drop.add_argument(
        "--drop-pending", dest="drop_pending", action="store_true", help="drop pending updates"
    )
    drop.add_argument(
        "--keep-pending",
        dest="drop_pending",
        action="store_false",
        help="keep pending updates (default)",
    )
    sub.add_parser("webhook-info", parents=[common], help="show getWebhookInfo")
    render = sub.add_parser("check-render", parents=[common], help="validate render.yaml")
    render.add_argument("path", nargs="?", default="render.yaml", help="default ./render.yaml")
    render.add_argument(
        "--require-env", action="append", default=[], metavar="VAR", help="must be declared"
    )
    # Listed here for --help only: main() hands `lint ...` to lint_main before parsing.
    sub.add_parser("lint", help="find polling/error-handler/blocking-call mistakes in code")
    return parser


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Run the ``safe-polling`` command.

    Args:
        argv: Arguments without the program name; :obj:`None` reads :data:`sys.argv`.
        env: Environment to read; :obj:`None` is :data:`os.environ`.

    Returns:
        The exit code: 0 ok, 1 checks failed (usage errors exit 2 via argparse).

    .. versionadded:: 0.1.0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lint"]:
        from .lint import lint_main

        return lint_main(argv[1:])
    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    handlers = {
        "preflight": _preflight,
        "reset-webhook": _reset_webhook,
        "webhook-info": _webhook_info,
        "check-render": _check_render,
    }
    handler = handlers[args.command]
    ok, text, data = anyio.run(handler, args, env)
    secrets = [args.token or "", *(env.get(k, "") for k in (TOKEN_ENV, "BOT_TOKEN"))]
    shown = json.dumps(data, ensure_ascii=False, indent=2) if args.json else text
    print(mask_secrets(shown, secrets))
    return 0 if ok else 1


_Outcome = tuple[bool, str, dict[str, Any]]


async def _preflight(args: argparse.Namespace, env: Mapping[str, str]) -> _Outcome:
    if args.database_url:
        # The lease reads DATABASE_URL too: let it see the one given on the command line.
        env = {**env, "DATABASE_URL": args.database_url}
    lease, lease_checks = _lease(args, env)
    render: str | bool | None = False if args.no_render else args.render_yaml
    try:
        report = await run_preflight(
            token=args.token,
            base_url=args.base_url,
            database_url=args.database_url,
            require_database=args.require_database,
            render_yaml=render,
            lease=lease,
            extra_checks=lease_checks,
            env=env,
            timeout=args.timeout,
        )
    finally:
        if lease is not None:
            await lease.aclose()
    return report.ok, str(report), report.to_dict()


class _ClosableLease(LeaseLike, Protocol):
    async def aclose(self) -> None: ...


def _lease(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[_ClosableLease | None, list[PreflightCheck]]:
    """The lease ``run_polling`` would use, or a failing check explaining why there is none."""
    token = resolve_token(args.token, env).token
    if args.no_lease or token is None or check_token_shape(token).status is CheckStatus.FAIL:
        return None, []
    try:
        from safe_polling.lease import LeaseError, lease_from_env
    except ImportError:  # lease extra not built in this installation
        return None, []
    try:
        return lease_from_env(token=token, env=env), []
    except LeaseError as exc:
        message = str(exc)

        async def config_error() -> CheckResult:
            return CheckResult("lease", CheckStatus.FAIL, message, hint="fix SAFE_POLLING_LEASE")

        return None, [PreflightCheck("lease", config_error)]


def _api(args: argparse.Namespace, env: Mapping[str, str]) -> BotApi | CheckResult:
    token = resolve_token(args.token, env).token
    if token is None:
        return CheckResult("token", CheckStatus.FAIL, f"no bot token: set {TOKEN_ENV}")
    shape = check_token_shape(token)
    if shape.status is CheckStatus.FAIL:
        return shape
    base = args.base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return BotApi(token, base, args.timeout)


def _failure(what: str, detail: str) -> _Outcome:
    return False, f"❌ {what} failed: {detail}", {"ok": False, "error": detail}


async def _webhook_info(args: argparse.Namespace, env: Mapping[str, str]) -> _Outcome:
    api = _api(args, env)
    if isinstance(api, CheckResult):
        return _failure("webhook-info", api.detail)
    try:
        async with api:
            info = await api.call("getWebhookInfo")
    except (ApiError, ApiUnreachable) as exc:
        return _failure("webhook-info", _explain(exc))
    data = _webhook_summary(info if isinstance(info, dict) else {})
    rows = [
        ("webhook", data["webhook_host"] or "none (polling mode)"),
        ("pending", f"{data['pending_update_count']} update(s)"),
    ]
    rows += [(key.replace("_", " "), str(data[key])) for key in _OPTIONAL if data.get(key)]
    width = max(len(label) for label, _ in rows)
    mark = "⚠️" if data["webhook_host"] else "✅"
    lines = [f"{mark if i == 0 else '  '} {k.ljust(width)}  {v}" for i, (k, v) in enumerate(rows)]
    return True, "\n".join(lines), {"ok": True, **data}


_OPTIONAL = ("last_error_message", "last_error_date", "ip_address", "max_connections")


def _webhook_summary(info: dict[str, Any]) -> dict[str, Any]:
    # Only the host of the webhook URL: its path often holds a secret (or the token).
    url = info.get("url") or ""
    data: dict[str, Any] = {
        "webhook_set": bool(url),
        "webhook_host": webhook_host(url) if url else None,
        "pending_update_count": int(info.get("pending_update_count") or 0),
    }
    data.update({key: info[key] for key in (*_OPTIONAL, "allowed_updates") if key in info})
    return data


async def _reset_webhook(args: argparse.Namespace, env: Mapping[str, str]) -> _Outcome:
    api = _api(args, env)
    if isinstance(api, CheckResult):
        return _failure("reset-webhook", api.detail)
    try:
        async with api:
            info = await api.call("getWebhookInfo")
            await api.call("deleteWebhook", drop_pending_updates=bool(args.drop_pending))
    except (ApiError, ApiUnreachable) as exc:
        return _failure("reset-webhook", _explain(exc))
    data = _webhook_summary(info if isinstance(info, dict) else {})
    pending = data["pending_update_count"]
    fate = "dropped" if args.drop_pending else "kept"
    before = f"was {data['webhook_host']}" if data["webhook_set"] else "no webhook was set"
    text = f"✅ deleteWebhook done: {before}; {pending} pending update(s) {fate}"
    return True, text, {"ok": True, **data, "dropped_pending": bool(args.drop_pending)}


def _explain(exc: ApiError | ApiUnreachable) -> str:
    if isinstance(exc, ApiError) and exc.code in (401, 404):
        return "token rejected by Telegram: revoke/copy it again from @BotFather"
    return str(exc)


async def _check_render(args: argparse.Namespace, env: Mapping[str, str]) -> _Outcome:
    from safe_polling._render import RenderYamlUnavailable, check_render_yaml

    try:
        findings = check_render_yaml(args.path, require_env=args.require_env)
    except RenderYamlUnavailable as exc:
        return _failure("check-render", str(exc))
    errors = sum(f.is_error for f in findings)
    lines = [
        f"{'❌' if f.is_error else '⚠️'} " + (f"line {f.line}: " if f.line else "") + f.message
        for f in findings
    ]
    warned = f" ({len(findings)} warning(s))" if findings else ""
    verdict = (
        f"❌ {args.path}: {errors} error(s)" if errors else f"✅ {args.path} is valid{warned}"
    )
    data = {"ok": not errors, "path": args.path, "findings": [f.to_dict() for f in findings]}
    return not errors, "\n".join([*lines, verdict]), data
