"""Property tests of the permission table."""

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.auth import ROLE_ORDER, Permission, Role, allows, role_rank


# Property: role permissions are nested
@settings(max_examples=200)
@given(st.sampled_from(list(Role)), st.sampled_from(list(Role)), st.sampled_from(list(Permission)))
def test_role_permissions_are_nested(lower: Role, higher: Role, permission: Permission) -> None:
    """Whatever a role may do, every role above it in the order may do too."""
    if role_rank(lower) <= role_rank(higher) and allows(lower, permission):
        assert allows(higher, permission)


# Property: role permissions are nested (strictly: each step up adds something)
@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=len(ROLE_ORDER) - 2))
def test_each_step_up_adds_a_permission(step: int) -> None:
    lower, higher = ROLE_ORDER[step], ROLE_ORDER[step + 1]
    gained = [p for p in Permission if allows(higher, p) and not allows(lower, p)]
    assert gained
