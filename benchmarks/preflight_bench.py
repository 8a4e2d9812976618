"""How much start-up time the preflight adds, as a ratio to a bare PTB start.

Baseline: ``Application.initialize()`` (one getMe) on the in-process fake Bot API.
Measured: ``run_preflight()`` against the same server (getMe + getWebhookInfo side by side,
plus the variants below). Trials are interleaved, medians are compared in the same run.

    .venv/bin/python benchmarks/preflight_bench.py [--trials 40] [--pg-dsn URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

import anyio

from safe_polling._preflight import run_preflight
from safe_polling.testing import FakeBotAPI

Trial = Callable[[], Awaitable[None]]


async def _timed(trial: Trial) -> float:
    start = time.perf_counter()
    await trial()
    return time.perf_counter() - start


async def bench(trials: int, pg_dsn: str | None) -> None:
    async with FakeBotAPI() as api:

        async def bare_ptb() -> None:
            app = api.application_builder().build()
            await app.initialize()
            await app.shutdown()

        def preflight(**kwargs: object) -> Trial:
            options: dict[str, object] = {"render_yaml": False, **kwargs}

            async def run() -> None:
                report = await run_preflight(
                    token=api.token,
                    base_url=api.base_url,
                    env={},
                    **options,  # type: ignore[arg-type]
                )
                assert report.ok, str(report)

            return run

        sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        variants: dict[str, Trial] = {
            "bare PTB initialize (getMe)": bare_ptb,
            "preflight: token + Telegram": preflight(),
            "preflight: + SQLite": preflight(database_url=sqlite_url),
            "preflight: + render.yaml": preflight(render_yaml="render.yaml"),
        }
        if pg_dsn:
            variants["preflight: + PostgreSQL"] = preflight(database_url=pg_dsn)
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for trial in variants.values():  # warm-up: imports, first connections
            await trial()
        for _ in range(trials):
            for name, trial in variants.items():
                samples[name].append(await _timed(trial))
    base = statistics.median(samples["bare PTB initialize (getMe)"])
    print(f"{'variant':32} {'median ms':>10} {'ratio':>7}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:32} {median * 1000:10.2f} {median / base:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--pg-dsn", default=os.environ.get("SAFE_POLLING_TEST_PG"))
    args = parser.parse_args()
    anyio.run(bench, args.trials, args.pg_dsn)


if __name__ == "__main__":
    main()
