"""``python -m safe_polling.lint PATH...``."""

import sys

from ._command import lint_main

if __name__ == "__main__":
    sys.exit(lint_main(sys.argv[1:]))
