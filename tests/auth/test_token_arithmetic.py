"""Refresh-time arithmetic (rules 2 and 3), by example and by property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.auth.token import (
    REFRESH_JITTER_FRACTION,
    Token,
    TokenState,
    brand_jitter,
    fingerprint,
    plan_token,
)

sent_ats = st.floats(min_value=0, max_value=4e9, allow_nan=False)
lifetimes = st.floats(min_value=1.0, max_value=400 * 86400.0, allow_nan=False)
buffers = st.floats(min_value=0, max_value=7 * 86400.0, allow_nan=False)
skews = st.floats(min_value=0, max_value=3600.0, allow_nan=False)
jitters = st.floats(min_value=0, max_value=1, exclude_max=True, allow_nan=False)


def test_a_day_long_token_renews_thirty_minutes_early_minus_the_skew() -> None:
    token = plan_token(
        "t" * 300, sent_at=1000.0, expires_in=86399, buffer_seconds=1800, skew_seconds=30
    )
    assert token.expires_at == 1000.0 + 86399 - 30
    assert token.refresh_at == token.expires_at - 1800
    assert token.obtained_at == 1000.0


def test_a_sixty_second_token_with_a_thirty_minute_buffer_renews_halfway() -> None:
    token = plan_token("t", sent_at=0.0, expires_in=60, buffer_seconds=1800, skew_seconds=30)
    # the skew margin is capped at a quarter of the lifetime; the buffer at half the rest
    assert token.expires_at == 45.0
    assert token.refresh_at == 22.5


def test_jitter_moves_refresh_earlier_by_at_most_a_tenth_of_the_buffer() -> None:
    plain = plan_token("t", sent_at=0.0, expires_in=86399, buffer_seconds=1800, skew_seconds=30)
    jittered = plan_token(
        "t", sent_at=0.0, expires_in=86399, buffer_seconds=1800, skew_seconds=30, jitter=0.999
    )
    assert plain.refresh_at - 180 < jittered.refresh_at < plain.refresh_at


def test_brand_jitter_is_stable_and_spreads_brands() -> None:
    assert brand_jitter("AZURA") == brand_jitter("AZURA")
    values = {round(brand_jitter(f"BRAND{i}"), 3) for i in range(50)}
    assert len(values) > 40
    assert all(0 <= v < 1 for v in values)


@pytest.mark.parametrize("expires_in", [0, -5])
def test_non_positive_lifetimes_are_refused(expires_in: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_token("t", sent_at=0, expires_in=expires_in, buffer_seconds=1, skew_seconds=1)


def test_states_follow_the_clock() -> None:
    token = Token("secret-token-value", obtained_at=0, expires_at=100, refresh_at=70)
    assert token.state(69.9) is TokenState.FRESH
    assert token.state(70) is TokenState.STALE
    assert token.state(99.9) is TokenState.STALE
    assert token.state(100) is TokenState.EXPIRED


def test_repr_shows_a_fingerprint_never_the_token() -> None:
    token = Token("secret-token-value", obtained_at=0, expires_at=100, refresh_at=70)
    assert "secret-token-value" not in repr(token)
    assert fingerprint("secret-token-value") in repr(token)
    assert len(fingerprint("x")) == 8


@given(sent_ats, lifetimes, buffers, skews, jitters)
def test_refresh_comes_after_sending_and_before_expiry(
    sent_at: float, expires_in: float, buffer: float, skew: float, jitter: float
) -> None:
    token = plan_token(
        "t",
        sent_at=sent_at,
        expires_in=expires_in,
        buffer_seconds=buffer,
        skew_seconds=skew,
        jitter=jitter,
    )
    assert sent_at < token.refresh_at <= token.expires_at <= sent_at + expires_in


@given(sent_ats, lifetimes, buffers, skews, jitters)
def test_no_lifetime_can_cause_a_refresh_loop(
    sent_at: float, expires_in: float, buffer: float, skew: float, jitter: float
) -> None:
    """Each token is used for at least ~a third of what the server granted."""
    token = plan_token(
        "t",
        sent_at=sent_at,
        expires_in=expires_in,
        buffer_seconds=buffer,
        skew_seconds=skew,
        jitter=jitter,
    )
    assert token.refresh_at - sent_at >= 0.33 * expires_in - 1e-6 * max(1.0, sent_at)


@given(sent_ats, lifetimes, buffers, skews, jitters)
def test_buffer_never_exceeds_the_configured_one_plus_jitter(
    sent_at: float, expires_in: float, buffer: float, skew: float, jitter: float
) -> None:
    token = plan_token(
        "t",
        sent_at=sent_at,
        expires_in=expires_in,
        buffer_seconds=buffer,
        skew_seconds=skew,
        jitter=jitter,
    )
    early = token.expires_at - token.refresh_at
    assert early <= buffer * (1 + REFRESH_JITTER_FRACTION) + 1e-6 * max(1.0, sent_at)
    assert early <= (token.expires_at - sent_at) / 2 * (1 + REFRESH_JITTER_FRACTION) + 1e-6 * max(
        1.0, sent_at
    )


@given(sent_ats, lifetimes, skews)
def test_expiry_keeps_the_skew_margin_but_at_least_three_quarters_of_the_lifetime(
    sent_at: float, expires_in: float, skew: float
) -> None:
    token = plan_token(
        "t", sent_at=sent_at, expires_in=expires_in, buffer_seconds=0, skew_seconds=skew
    )
    margin = sent_at + expires_in - token.expires_at
    tolerance = 1e-6 * max(1.0, sent_at)
    assert margin == pytest.approx(min(skew, expires_in / 4), abs=tolerance)


@given(sent_ats, lifetimes, buffers, skews, jitters, st.floats(min_value=0, max_value=1e6))
def test_state_is_monotonic_in_time(
    sent_at: float, expires_in: float, buffer: float, skew: float, jitter: float, step: float
) -> None:
    token = plan_token(
        "t",
        sent_at=sent_at,
        expires_in=expires_in,
        buffer_seconds=buffer,
        skew_seconds=skew,
        jitter=jitter,
    )
    order = [TokenState.FRESH, TokenState.STALE, TokenState.EXPIRED]
    now = sent_at
    assert token.state(now) is TokenState.FRESH
    assert order.index(token.state(now)) <= order.index(token.state(now + step))
