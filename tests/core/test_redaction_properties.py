"""Generated input: no token, password or registered secret survives redaction, in any form."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from safe_polling import _redaction, redact

from ._redaction_state import secrets_restored

_URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
bot_ids = st.integers(min_value=100, max_value=10**15).map(str)
secrets = st.text(alphabet=_URL_SAFE, min_size=30, max_size=46)
surroundings = st.text(max_size=40)


def _encodings(text: str) -> list[str]:
    """The forms a secret takes in URLs and logs."""
    partial = quote(text, safe="")
    full_upper = "".join(f"%{b:02X}" for b in text.encode())
    return [
        text,
        text.replace(":", "%3A"),
        text.replace(":", "%3a"),
        partial,
        full_upper,
        full_upper.lower(),
        quote(partial, safe=""),  # encoded twice
    ]


@settings(max_examples=300, deadline=None)
@given(
    bot_id=bot_ids,
    secret=secrets,
    before=surroundings,
    after=surroundings,
    form=st.integers(min_value=0, max_value=6),
)
def test_a_token_by_its_shape_is_masked_in_every_encoding(
    bot_id: str, secret: str, before: str, after: str, form: int
) -> None:
    token = f"{bot_id}:{secret}"
    assume(not any(e in before + after for e in _encodings(secret)))
    text = redact(f"{before}/file/bot{_encodings(token)[form]}/{after}")
    for encoded in _encodings(secret):
        assert encoded not in text


@example(secret="00000://", before="", after="", form=0)  # "://" but no URL: found by Hypothesis
@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(min_size=8, max_size=40).filter(lambda s: s.strip() == s and s.strip()),
    before=surroundings,
    after=surroundings,
    form=st.integers(min_value=0, max_value=6),
)
def test_a_registered_secret_is_masked_in_every_encoding(
    secret: str, before: str, after: str, form: int
) -> None:
    # A URL's secret is its password (tested with the URL passwords); anything else is
    # masked whole, even with "://" inside ("00000://" is no URL).
    assume(not _redaction.is_url(secret))
    with secrets_restored():
        _redaction._register(secret)
        encoded = _encodings(secret)[form]
        assume(encoded not in before + after)
        assert encoded not in redact(f"{before}{encoded}{after}")


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(alphabet=_URL_SAFE, max_size=10),
    password=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s.strip()),
    host=st.sampled_from(["db.internal", "10.0.0.5", "[::1]"]),
)
def test_a_database_url_password_is_masked_as_written(user: str, password: str, host: str) -> None:
    written = quote(password, safe="")
    url = f"postgresql://{user}:{written}@{host}:5432/app"
    text = redact(f"connecting to {url} failed")
    assert f":{written}@" not in text
    assert host in text


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=200))
def test_redact_never_raises_and_is_stable(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
