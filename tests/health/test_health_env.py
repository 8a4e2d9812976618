"""health_port_from_env: SAFE_POLLING_HEALTH_PORT and $PORT."""

from __future__ import annotations

import pytest

from safe_polling._health import health_port_from_env


@pytest.mark.parametrize("value", [None, "", "0", "false", "OFF", " no "])
def test_off(value: str | None) -> None:
    env = {"PORT": "10000"}
    if value is not None:
        env["SAFE_POLLING_HEALTH_PORT"] = value
    assert health_port_from_env(env) is None


@pytest.mark.parametrize("value", ["8080", " 8080 "])
def test_explicit_port(value: str) -> None:
    assert health_port_from_env({"SAFE_POLLING_HEALTH_PORT": value, "PORT": "10000"}) == 8080


@pytest.mark.parametrize("value", ["PORT", "port", "1", "true", "True", "yes", "on"])
def test_use_dollar_port(value: str) -> None:
    assert health_port_from_env({"SAFE_POLLING_HEALTH_PORT": value, "PORT": "10000"}) == 10000


def test_dollar_port_missing() -> None:
    with pytest.raises(ValueError, match="PORT is not set"):
        health_port_from_env({"SAFE_POLLING_HEALTH_PORT": "PORT"})


def test_dollar_port_invalid() -> None:
    with pytest.raises(ValueError, match="PORT must be a port number"):
        health_port_from_env({"SAFE_POLLING_HEALTH_PORT": "true", "PORT": "abc"})


@pytest.mark.parametrize("value", ["abc", "-1", "65536", "80.5", "99999999", "8080x"])
def test_invalid(value: str) -> None:
    with pytest.raises(ValueError, match="SAFE_POLLING_HEALTH_PORT must be a port number") as err:
        health_port_from_env({"SAFE_POLLING_HEALTH_PORT": value})
    assert repr(value) in str(err.value)
