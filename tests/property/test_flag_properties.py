"""Feature-flag rollout: one answer per user and flag, spread as the percentage says."""

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.auth import Role
from quantdesk.domain.feature_flags import FeatureFlag, decide, rollout_bucket

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
USERS = st.text(min_size=1, max_size=40)


def _flag(name: str, percent: int) -> FeatureFlag:
    return FeatureFlag(
        name=name, version=1, enabled=True, rollout_percent=percent, updated_by="t", updated_at_ns=0
    )


# Property: a rollout decision is deterministic per (user id, flag), growing with the percent
@settings(max_examples=200, deadline=None)
@given(name=NAMES, user=USERS, low=st.integers(0, 100), high=st.integers(0, 100))
def test_rollout_is_deterministic_and_monotonic(name: str, user: str, low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    first = decide(_flag(name, low), user_id=user, role=Role.viewer, environment="x")
    again = decide(_flag(name, low), user_id=user, role=Role.viewer, environment="x")
    assert first == again
    assert first.bucket == rollout_bucket(user, name)
    assert first.on == (first.bucket < low)
    wider = decide(_flag(name, high), user_id=user, role=Role.viewer, environment="x")
    assert wider.on or not first.on  # raising the percentage never turns a user off
    assert decide(_flag(name, 0), user_id=user, role=Role.admin, environment="x").on is False
    assert decide(_flag(name, 100), user_id=user, role=Role.admin, environment="x").on is True


# Property: a rollout of p percent reaches about p percent of users (within 4 points of 2,000)
@settings(max_examples=100, deadline=None)
@given(name=NAMES, percent=st.integers(0, 100), salt=st.text(max_size=8))
def test_rollout_reaches_the_share_it_names(name: str, percent: int, salt: str) -> None:
    flag = _flag(name, percent)
    users = [f"{salt}user-{n}" for n in range(2000)]
    on = sum(decide(flag, user_id=u, role=Role.viewer, environment="x").on for u in users)
    assert abs(on / len(users) * 100 - percent) <= 4
