"""The CLI tests share the local dead/hanging endpoints of the preflight tests."""

from tests.preflight.conftest import dead_port

__all__ = ["dead_port"]
