"""``safe-polling lint``: a static checker for the failures that make a polling bot break.

It reads source only (the :mod:`ast`, nothing is imported or run) and
reports, with a file, line, column, rule id, reason and fix:

- **SP1xx** polling started more than once in one program, or where an event
  loop already runs;
- **SP2xx** error handlers that restart, retry, exit or re-raise; an exit on
  ``409 Conflict``;
- **SP3xx** blocking calls (sync DB drivers, ``time.sleep``, ``requests``,
  ``subprocess``, ``Future.result()``, locks held around them, your own
  blocking helpers) inside ``async def``;
- **SP4xx** a webhook mixed with polling or set per request, bot tokens and
  other secrets in the source;
- **SP5xx** a coroutine function called without ``await``.

Use it from the command line (``safe-polling lint PATH...`` or
``python -m safe_polling.lint PATH...``) or from Python::

    from safe_polling.lint import lint_paths

    for finding in lint_paths(["bot.py"]):
        print(finding.format())

See ``docs/lint.md`` for every rule.

.. versionadded:: 0.1.0
"""

from ._command import lint_main
from ._engine import Finding, Rule
from ._runner import RULES, lint_paths

__all__ = ["RULES", "Finding", "Rule", "lint_main", "lint_paths"]
