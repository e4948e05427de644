"""The service's audit trail: who did what to what, with which outcome, on the registry's chain.

Every state-changing request and every change the service makes (risk limits, kill switches,
flags) is an event of the one hash-chained log the registry keeps, so ``verify`` proves them
all. An event holds only what cannot be a secret: the actor, an action name, a subject, an
outcome word, a sha256 digest of the request body (never the body) and the correlation id.
Actions starting ``strategy_`` are the registry's own (its store writes them with the
version, and the registry replays them): nobody else may write one.
"""

import re
import time
from collections.abc import Callable, Mapping

from pydantic import JsonValue

from quantdesk.domain.audit import AuditBreak, AuditEvent
from quantdesk.domain.correlation import current_correlation_id, is_correlation_id
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.text import shown, single_line, validate_actor
from quantdesk.services.ports import AuditLog
from quantdesk.services.ports.audit_trail import AuditFilter, AuditSearch
from quantdesk.services.registry import SEQUENCE_MAX, AuditReport

REGISTRY_ACTION_PREFIX = "strategy_"
ACTION_MAX_LENGTH = 60  # the audit_events.action column
SUBJECT_MAX_LENGTH = 200  # the audit_events.subject column
OUTCOME_MAX_LENGTH = 40
QUERY_LIMIT_MAX = 1000
OFFSET_MAX = 10**9
DETAILS_MAX_KEYS = 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_OUTCOME = re.compile(r"^[a-z0-9_]{1,40}$")
Clock = Callable[[], int]


class AuditTrail:
    def __init__(
        self,
        log: AuditLog,
        search: AuditSearch,
        verifier: Callable[[], AuditReport],
        clock: Clock = time.time_ns,
    ) -> None:
        self._log = log
        self._search = search
        self._verifier = verifier  # the registry's verify_audit: chain, head, replay, anchors
        self._clock = clock

    def record(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        outcome: str,
        payload_digest: str | None,
        correlation_id: str | None,
    ) -> None:
        """Append one request's event; ``correlation_id`` None takes the current one (if any).

        ``subject`` (the request's path) is escaped and cut to fit rather than refused."""
        self._append(
            actor,
            action,
            _request_subject(subject),
            {
                "outcome": _outcome(outcome),
                "payload_digest": _digest(payload_digest),
                "correlation_id": _correlation(correlation_id),
            },
        )

    def record_change(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, JsonValue],
    ) -> AuditEvent:
        """A change a service made (a kill switch thrown): its own details, outcome ``ok``.

        The caller names only non-secret fields (scopes, reasons, versions)."""
        if len(details) > DETAILS_MAX_KEYS:
            raise InvalidInputError(f"an audit event holds at most {DETAILS_MAX_KEYS} details")
        payload: dict[str, object] = {
            **details,
            "outcome": "ok",
            "correlation_id": _correlation(None),
        }
        return self._append(actor, action, subject, payload)

    def query(
        self, where: AuditFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEvent], int]:
        """One page of events in sequence order (oldest first), and the matching total."""
        where = AuditFilter() if where is None else where
        _check_filter(where)
        if not 1 <= limit <= QUERY_LIMIT_MAX:
            raise InvalidInputError(f"limit {limit} is outside 1 .. {QUERY_LIMIT_MAX}")
        if not 0 <= offset <= OFFSET_MAX:
            raise InvalidInputError(f"offset {offset} is outside 0 .. {OFFSET_MAX:,}")
        return self._search.search(where, limit=limit, offset=offset)

    def verify(self) -> tuple[bool, list[AuditBreak]]:
        """Whether the whole chain holds (with the registry's replay and the runs' anchors)."""
        report = self.report()
        return report.holds, report.breaks

    def report(self) -> AuditReport:
        """``verify`` with what was checked: events, anchors, whether a key sealed them."""
        return self._verifier()

    def _append(
        self, actor: str, action: str, subject: str, payload: dict[str, object]
    ) -> AuditEvent:
        return self._log.append(
            validate_actor(actor), _action(action), _subject(subject), payload, self._clock()
        )


def _line(value: str, what: str, max_length: int) -> str:
    if len(value) > max_length:
        raise InvalidInputError(
            f"audit {what} {shown(value)} is too long: at most {max_length} characters"
        )
    try:
        return single_line(value)
    except ValueError as error:
        raise InvalidInputError(f"audit {what} {error}") from None


def _action(action: str) -> str:
    action = _line(action, "action", ACTION_MAX_LENGTH)
    if not action:
        raise InvalidInputError("an audit event needs an action")
    if action.startswith(REGISTRY_ACTION_PREFIX):
        raise InvalidInputError(
            f"audit action {shown(action)} is reserved for the strategy registry",
            code="audit_action_reserved",
            data={"prefix": REGISTRY_ACTION_PREFIX},
        )
    return action


def _subject(subject: str) -> str:
    return _line(subject, "subject", SUBJECT_MAX_LENGTH)


def _request_subject(subject: str) -> str:
    """A request's path as one storable line: a hostile path (``%0A``, a megabyte) is still
    audited, escaped and cut short, never refused (that would hide the request)."""
    try:
        return _subject(subject)
    except InvalidInputError:
        escaped = subject.encode("unicode_escape").decode("ascii").strip()
        if len(escaped) > SUBJECT_MAX_LENGTH:
            escaped = escaped[: SUBJECT_MAX_LENGTH - 3] + "..."
        return escaped


def _outcome(outcome: str) -> str:
    if _OUTCOME.fullmatch(outcome) is None:
        raise InvalidInputError(
            f"audit outcome {shown(outcome)} is not a word of 1-{OUTCOME_MAX_LENGTH} "
            "lowercase letters, digits or underscores (e.g. ok, refused, 403)"
        )
    return outcome


def _digest(digest: str | None) -> str | None:
    """A sha256 hex digest or nothing: a free-form value could carry the body itself."""
    if digest is not None and _DIGEST.fullmatch(digest) is None:
        raise InvalidInputError("a payload digest is 64 lowercase hex digits (sha256)")
    return digest


def _correlation(correlation_id: str | None) -> str | None:
    value = current_correlation_id() if correlation_id is None else correlation_id
    if value is not None and not is_correlation_id(value):
        raise InvalidInputError(f"correlation id {shown(value)} is not 1-64 of [A-Za-z0-9._:-]")
    return value


def _check_filter(where: AuditFilter) -> None:
    for what, value, limit in (
        ("actor", where.actor, 200),
        ("action", where.action, ACTION_MAX_LENGTH),
        ("action prefix", where.action_prefix, ACTION_MAX_LENGTH),
        ("subject", where.subject, SUBJECT_MAX_LENGTH),
    ):
        if value is not None and len(value) > limit:
            raise InvalidInputError(f"the {what} filter is too long: at most {limit} characters")
    if not 0 <= where.after_seq <= SEQUENCE_MAX:
        raise InvalidInputError(f"after_seq {where.after_seq} is outside 0 .. {SEQUENCE_MAX:,}")
    for what, at in (("since", where.since_ns), ("until", where.until_ns)):
        if at is not None and not 0 <= at <= SEQUENCE_MAX:
            raise InvalidInputError(f"{what} {at} is outside 0 .. {SEQUENCE_MAX:,} (ns UTC)")
