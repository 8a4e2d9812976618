"""The Grafana dashboard, the alert rules and the docs table name only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from safe_polling import metrics_registry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "safe-polling.json"
ALERTS = ROOT / "docs" / "grafana" / "alerts.yml"
PAGE = ROOT / "docs" / "metrics.md"
_SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
_NAME = re.compile(r"\bsafe_polling_[a-z_]+")


def exposed() -> dict[str, str]:
    """Every series name our registry can expose, mapped to its documented name."""
    names = {}
    for family in metrics_registry().collect():
        documented = family.name + ("_total" if family.type == "counter" else "")
        for suffix in _SUFFIXES[family.type]:
            names[family.name + suffix] = documented
    return names


def test_dashboard_queries_use_existing_metrics_and_cover_them_all() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in _NAME.findall(expr)}
    names = exposed()
    assert used <= set(names), used - set(names)
    assert {names[n] for n in used} == set(names.values())
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"


def test_the_three_alerts_use_existing_metrics() -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "TelegramBotNotPolling",
        "TelegramBotTwoLeaders",
        "TelegramBotHandlerErrors",
    ]
    used = {name for rule in rules for name in _NAME.findall(rule["expr"])}
    assert used <= set(exposed()), used - set(exposed())


def test_docs_table_lists_every_metric() -> None:
    table = {m for m in re.findall(r"^\| `(safe_polling_[a-z_]+)`", PAGE.read_text(), re.M)}
    assert table == set(exposed().values())
