"""The fresh PostgreSQL schema per test that the delivery tests use (`pg_url`)."""

from tests.delivery.conftest import pg_url

__all__ = ["pg_url"]
