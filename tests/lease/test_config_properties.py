"""Generated configuration: every loader gives a value or one documented error, no secret.

The loaders read ``SAFE_POLLING_*`` variables (lease kind, name, file, URLs, watchdog,
health port, delivery) and ``run_polling``'s ``watchdog=`` option. Whatever the
values, they return a result or raise ``ValueError`` / :class:`LeaseError` with a
one-line message that does not hold the token's secret or a URL password.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safe_polling import health_port_from_env, watchdog_from_env
from safe_polling._watchdog import resolve_watchdog
from safe_polling.db import database_url_from_env
from safe_polling.lease import LeaseError, PollingLease, lease_from_env

from .conftest import SECRET, TOKEN

PASSWORD = "pw-Generated-0123"

_NAMES = [
    "SAFE_POLLING_LEASE",
    "SAFE_POLLING_LEASE_NAME",
    "SAFE_POLLING_LEASE_FILE",
    "SAFE_POLLING_DATABASE_URL",
    "DATABASE_URL",
    "SAFE_POLLING_REDIS_URL",
    "REDIS_URL",
    "SAFE_POLLING_WATCHDOG",
    "SAFE_POLLING_HEALTH_PORT",
    "PORT",
]
_VALUES = (
    st.text(max_size=30)
    | st.sampled_from(["postgres", "postgresql", "redis", "file", "none", "", "0", "1", "true"])
    | st.sampled_from(["/tmp/x.lock", "rel.lock", "/dev/null", "/", "/no/such/dir/x.lock"])
    | st.builds(
        "{}://u:{}@{}/{}".format,
        st.sampled_from(["postgres", "postgresql", "redis", "rediss", "unix", "sqlite", "x"]),
        st.just(PASSWORD),
        st.sampled_from(["h", "[::1", "[::1]:99999", "h:abc", "h:5432", ""]),
        st.text(max_size=5),
    )
    | st.floats().map(str)
)
environments = st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=6)


def _assert_clean(message: str) -> None:
    assert SECRET not in message
    assert PASSWORD not in message
    assert "\n" not in message


@settings(max_examples=400, deadline=None)
@given(env=environments)
def test_lease_from_env_gives_a_lease_or_a_lease_error(env: dict[str, str]) -> None:
    try:
        lease = lease_from_env(token=TOKEN, env=env)
    except LeaseError as exc:
        _assert_clean(str(exc))
        return
    assert lease is None or isinstance(lease, PollingLease)
    if lease is not None:
        _assert_clean(lease.describe())


@settings(max_examples=300, deadline=None)
@given(env=environments)
def test_env_loaders_give_a_value_or_a_value_error(env: dict[str, str]) -> None:
    for loader in (watchdog_from_env, health_port_from_env):
        try:
            value = loader(env)
        except ValueError as exc:
            _assert_clean(str(exc))
        else:
            assert value is None or value > 0
    assert isinstance(database_url_from_env(env), str)


@settings(max_examples=300, deadline=None)
@given(
    value=st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.just("env")
    | st.lists(st.integers(), max_size=2)
)
def test_run_polling_watchdog_option_is_a_threshold_or_a_value_error(value: Any) -> None:
    try:
        threshold = resolve_watchdog(value, env={})
    except ValueError as exc:
        message = str(exc)
    else:
        assert threshold is None or 0 < threshold < float("inf")
        assert threshold != 1.0 or value == 1  # True is the default, never "1 second"
        return
    assert "watchdog threshold must be" in message


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "0x10"])
def test_watchdog_env_junk_is_one_line(value: str) -> None:
    with pytest.raises(ValueError, match="SAFE_POLLING_WATCHDOG must be"):
        watchdog_from_env({"SAFE_POLLING_WATCHDOG": value})
