"""``python -m safe_polling``: the same as the ``safe-polling`` command."""

from safe_polling._cli import main

raise SystemExit(main())
