"""The metrics tests' fixtures: bot processes (`bots`) and a fresh PostgreSQL schema."""

from tests.delivery.conftest import pg_url
from tests.metrics._scrape import bots

__all__ = ["bots", "pg_url"]
