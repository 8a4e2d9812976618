"""Entry point of the KIE bot (Render ``startCommand: python bot_kie.py``).

Builds the application from the environment and hands it to :func:`safe_polling.run_polling`,
which runs the preflight, takes the polling lease (one poller across instances), polls,
and stops cleanly on SIGTERM. Nothing else belongs here.
"""

from __future__ import annotations

import sys

from kie_bot.app import build_application
from kie_bot.catalog import CatalogError
from kie_bot.config import ConfigError, load_settings
from kie_bot.preflight import kie_check
from safe_polling import run_polling


def main() -> None:
    """Run the bot until SIGINT/SIGTERM."""
    try:
        settings = load_settings()
        application = build_application(settings)  # loads and checks catalog.yaml
    except (ConfigError, CatalogError) as exc:
        # One clear line instead of a traceback; exit 1 so Render shows a failed deploy.
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    # drop_updates=False: updates that arrive while no instance polls (a deploy handover,
    # a crash) include successful_payment messages; dropping one would lose a paid top-up.
    # Every handler here is idempotent, so processing a late update is safe.
    run_polling(application, drop_updates=False, preflight_checks=[kie_check(settings)])


if __name__ == "__main__":
    main()
