"""Hostile inputs the service turns into names and lines (issue 14).

Property U1 (uploads): whatever name a client gives a file, the service either refuses it
or picks one of the allowed suffixes, and the file's path is inside the uploads folder.
Property A1 (audit): whatever path a request has, its audit subject is one storable line of
at most 200 characters (so a hostile path is audited, never refused or forged into lines).
Property R1 (risk limits): the stored spelling of a set of limits does not depend on the
order its allowed instruments were given in (one limits hash per meaning).
"""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.api.routers.data import BAR_SUFFIXES, SIGNAL_SUFFIXES, _suffix
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.risk_limits import limits_document, limits_hash
from quantdesk.domain.text import single_line
from quantdesk.services.audit_trail import SUBJECT_MAX_LENGTH, _request_subject

UPLOADS = Path("/srv/desk/uploads")
names = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda prefix, suffix: prefix + suffix,
        st.text(alphabet="./\\:\x00 abc%2F", max_size=40),
        st.sampled_from([*BAR_SUFFIXES, *SIGNAL_SUFFIXES, ".CSV", ".exe", ""]),
    ),
)


@settings(max_examples=300)
@given(name=names, allowed=st.sampled_from([BAR_SUFFIXES, SIGNAL_SUFFIXES]))
def test_u1_an_upload_name_never_leaves_the_uploads_folder(
    name: str, allowed: tuple[str, ...]
) -> None:
    try:
        suffix = _suffix(name, allowed)
    except InvalidInputError:
        return
    assert suffix in allowed
    stored = (UPLOADS / f"{'0' * 32}{suffix}").resolve()
    assert stored.parent == UPLOADS


@settings(max_examples=300)
@given(path=st.text(max_size=600))
def test_a1_a_request_path_is_one_storable_audit_line(path: str) -> None:
    subject = _request_subject(path)
    assert len(subject) <= SUBJECT_MAX_LENGTH
    assert single_line(subject) == subject


instrument_ids = st.lists(
    st.from_regex(r"[A-Z]{1,5}\.[A-Z]{2,4}", fullmatch=True), min_size=1, max_size=8, unique=True
)


@settings(max_examples=100)
@given(ids=instrument_ids, seed=st.randoms())
def test_r1_the_limits_hash_ignores_the_order_of_instruments(ids: list[str], seed: object) -> None:
    shuffled = list(ids)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    first = RiskLimits(allowed_instruments=frozenset(ids))
    second = RiskLimits(allowed_instruments=frozenset(shuffled))
    assert limits_hash(first) == limits_hash(second)
    assert limits_document(second)["allowed_instruments"] == sorted(ids)
