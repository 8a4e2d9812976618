"""``safe-polling lint``: the argparse front end of :func:`lint_paths`."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from safe_polling import __version__

from ._output import apply_baseline, format_json, format_sarif, format_text, load_baseline
from ._runner import RULES, run

__all__ = ["lint_main"]

_PREFIX_RE = re.compile(r"^SP[0-9]{0,3}$")
_DESCRIPTION = """\
Find the failure classes safe-polling exists for, without running the bot:
polling started twice or inside a running event loop (SP1xx), error handlers
that restart or retry and exits on Conflict (SP2xx), blocking calls inside
async def (SP3xx), webhook mixed with polling and secrets in the source
(SP4xx), coroutines called without await (SP5xx).

Silence one line with `# safe-polling: ignore[SP301]` (or a bare
`# safe-polling: ignore`). Accept today's findings with
`safe-polling lint --format json . > lint-baseline.json`, then
`safe-polling lint --baseline lint-baseline.json .` fails only on new ones.
Exit status: 0 clean, 1 findings, 2 usage error.
"""


def lint_main(argv: Sequence[str]) -> int:
    """Run ``safe-polling lint`` with *argv* (the arguments after ``lint``).

    Prints one line per finding (``path:line:col: SP101 message (fix: ...)``)
    and a summary line, a JSON list with ``--format json``, or a SARIF 2.1.0 log
    with ``--format sarif``. With ``--baseline FILE`` the findings that file
    holds are accepted: only new ones are printed and make the exit status 1.

    Args:
        argv (Sequence[:obj:`str`]): Command-line arguments, without the program
            name and the ``lint`` subcommand.

    Returns:
        :obj:`int`: ``0`` when clean, ``1`` when there are findings (a file that
        does not parse is an ``SP000`` finding), ``2`` on a usage error.

    Example:
        .. code-block:: python

            import sys
            from safe_polling.lint import lint_main

            sys.exit(lint_main(["bot.py", "--blocking-name", "get_user_balance"]))

    .. versionadded:: 0.1.0
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.list_rules:
        print(_rule_table())
        return 0
    select, ignore = _prefixes(args.select), _prefixes(args.ignore)
    bad = [prefix for prefix in (*select, *ignore) if not _PREFIX_RE.match(prefix)]
    if bad or not args.paths:
        parser.print_usage(sys.stderr)
        problem = f"not a rule prefix: {', '.join(bad)}" if bad else "give at least one PATH"
        print(f"{parser.prog}: error: {problem}", file=sys.stderr)
        return 2
    try:
        accepted = load_baseline(args.baseline) if args.baseline else set()
        findings, checked = run(
            args.paths,
            args.blocking_name,
            select or None,
            ignore or None,
            not args.no_config,
            args.exclude,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    new = apply_baseline(findings, accepted)
    if args.format == "json":
        print(format_json(new, RULES))
    elif args.format == "sarif":
        print(format_sarif(new, RULES, __version__))
    else:
        print(format_text(new, checked, len(findings) - len(new)))
    return 1 if new else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safe-polling lint",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files and directories to lint")
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="output format: text, json, or sarif (SARIF 2.1.0 for GitHub code scanning); "
        "default: text",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="do not walk directories or files matching GLOB (name or path relative to the "
        "linted directory: archive, legacy/*, *_old.py); repeatable",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="a previous `--format json` (or sarif) output: its findings are accepted and only "
        "new ones are reported and fail the run",
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="PREFIXES",
        help="only these rules, by id prefix, comma-separated (SP1,SP301); repeatable",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PREFIXES",
        help="skip these rules, by id prefix, comma-separated; repeatable",
    )
    parser.add_argument(
        "--blocking-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a sync function that blocks (e.g. get_user_balance); repeatable. Also read from "
        "[tool.safe-polling.lint] blocking-names in the nearest pyproject.toml",
    )
    parser.add_argument("--no-config", action="store_true", help="do not read pyproject.toml")
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    return parser


def _prefixes(values: Sequence[str]) -> list[str]:
    return [part.strip().upper() for value in values for part in value.split(",") if part.strip()]


def _rule_table() -> str:
    return "\n".join(
        f"{rule.id}  {rule.severity:<7}  {rule.name:<30} {rule.summary}" for rule in RULES.values()
    )
