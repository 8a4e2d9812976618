"""What ``safe-polling lint`` prints: text, JSON, SARIF 2.1.0; fingerprints and baselines.

SARIF follows the OASIS SARIF 2.1.0 standard as GitHub code scanning reads it: one
run, the rules with their default level, one result per finding with a region and a
``partialFingerprints`` entry so that alerts survive edits above them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from ._engine import Finding, Rule

__all__ = [
    "apply_baseline",
    "fingerprinted",
    "format_json",
    "format_sarif",
    "format_text",
    "load_baseline",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_FINGERPRINT_KEY = "safePollingLint/v1"


def fingerprinted(findings: Iterable[Finding], sources: Mapping[str, str]) -> list[Finding]:
    """*findings* with their :attr:`Finding.fingerprint` set from the text of their line."""
    lines = {path: source.splitlines() for path, source in sources.items()}
    seen: dict[tuple[str, str, str], int] = {}
    result = []
    for finding in sorted(findings):
        text = lines.get(finding.path, [])
        line = text[finding.line - 1].strip() if 0 < finding.line <= len(text) else ""
        key = (finding.rule, finding.path, line)
        rank = seen[key] = seen.get(key, -1) + 1
        digest = hashlib.sha256("\0".join((*key, str(rank))).encode()).hexdigest()[:32]
        result.append(replace(finding, fingerprint=digest))
    return result


def load_baseline(path: str) -> set[str]:
    """The fingerprints a baseline file accepts (a ``--format json`` or SARIF output).

    Raises:
        ValueError: The file cannot be read or is not such an output.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the baseline {path}: {exc}") from exc
    if isinstance(data, dict) and "runs" in data:
        items = [
            result.get("partialFingerprints", {})
            for run in data.get("runs", [])
            for result in run.get("results", [])
        ]
        found = {item.get(_FINGERPRINT_KEY) for item in items if isinstance(item, dict)}
    elif isinstance(data, list):
        found = {item.get("fingerprint") for item in data if isinstance(item, dict)}
    else:
        found = set()
    prints = {value for value in found if isinstance(value, str) and value}
    if data and not prints:
        raise ValueError(
            f"the baseline {path} has no fingerprints: write it with "
            "`safe-polling lint --format json PATH... > FILE`"
        )
    return prints


def apply_baseline(findings: Sequence[Finding], accepted: set[str]) -> list[Finding]:
    """The findings a baseline does not accept: only new problems fail the run."""
    return [finding for finding in findings if finding.fingerprint not in accepted]


def format_text(findings: Sequence[Finding], files_checked: int, baselined: int = 0) -> str:
    """The human output: one line per finding, then a summary line."""
    lines = [finding.format() for finding in sorted(findings)]
    accepted = f" ({baselined} accepted by the baseline)" if baselined else ""
    if findings:
        files = len({finding.path for finding in findings})
        noun = "problem" if len(findings) == 1 else "problems"
        lines.append(
            f"Found {len(findings)} {noun} in {files} of {files_checked} checked file(s)"
            f"{accepted}."
        )
    else:
        lines.append(f"All checks passed: {files_checked} file(s) checked, no problems{accepted}.")
    return "\n".join(lines)


def format_json(findings: Iterable[Finding], rules: Mapping[str, Rule]) -> str:
    """A JSON list of objects: path, line, col, rule, severity, message, fix, fingerprint."""
    items = []
    for finding in sorted(findings):
        item = asdict(finding)
        item["severity"] = rules[finding.rule].severity
        items.append(item)
    return json.dumps(items, indent=2)


def format_sarif(findings: Iterable[Finding], rules: Mapping[str, Rule], version: str) -> str:
    """A SARIF 2.1.0 log of one run, for GitHub code scanning (``upload-sarif``)."""
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    results = [
        {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": rules[finding.rule].severity,
            "message": {"text": f"{finding.message} (fix: {finding.fix})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(finding.path),
                        "region": {"startLine": finding.line, "startColumn": finding.col},
                    }
                }
            ],
            "partialFingerprints": {_FINGERPRINT_KEY: finding.fingerprint},
        }
        for finding in sorted(findings)
    ]
    driver = {
        "name": "safe-polling lint",
        "version": version,
        "rules": [
            {
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "help": {"text": f"Fix: {rule.fix}"},
                "defaultConfiguration": {"level": rule.severity},
            }
            for rule in rules.values()
        ],
    }
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(log, indent=2)


def _artifact(path: str) -> dict[str, str]:
    # Relative to the checkout (where code scanning runs the command) when possible.
    file = Path(path)
    if file.is_absolute():
        try:
            file = file.relative_to(Path(os.getcwd()))
        except ValueError:
            return {"uri": file.as_uri()}
    return {"uri": file.as_posix(), "uriBaseId": "%SRCROOT%"}
