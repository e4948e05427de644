"""What the validation routes take and answer: runs as jobs, records, policies, the gate.

Records and policies travel in this module's own shapes (the stores' rows can change without
changing the API); the full report is the domain's ``ValidationReport`` document, as stored.
"""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.text import REASON_MAX_LENGTH, free_text
from quantdesk.domain.validation.policy import POLICY_NAME_PATTERN, StoredPolicy
from quantdesk.domain.validation.report import PromotionOverride, ValidationRecord

NS_MAX = 2**63 - 1
WORKERS_MAX = 256
POLICY_NAME_MAX_LENGTH = 64
Reason = Annotated[str, Field(max_length=REASON_MAX_LENGTH), AfterValidator(free_text)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValidationRunCreate(_Body):
    """One validation of a version: the policy (default: ``default``) and the range."""

    policy: str | None = Field(default=None, pattern=POLICY_NAME_PATTERN)
    start_ns: int | None = Field(default=None, ge=0, le=NS_MAX)
    end_ns: int | None = Field(default=None, ge=0, le=NS_MAX)
    workers: int | None = Field(default=None, ge=1, le=WORKERS_MAX)
    ray_address: str | None = Field(default=None, min_length=1, max_length=300)


class ValidationRunAccepted(_Body):
    """Validation submitted as a job (kind ``validation_run``): follow it at ``job``; its
    result is the validation record."""

    ref: str
    policy: str
    job: JobOut


class ValidationRecordOut(_Body):
    validation_id: str
    ref: str
    strategy_id: str
    version: int
    content_hash: str
    policy_name: str
    policy_version: int
    passed: bool
    failed_checks: list[str]
    candidate_fingerprint: str
    fingerprints_sha256: str
    trials_run: int
    actor: str
    started_at_ns: int
    finished_at_ns: int

    @classmethod
    def of(cls, record: ValidationRecord) -> "ValidationRecordOut":
        values = record.model_dump(exclude={"report_path"})  # a server path stays on the server
        return cls(ref=record.ref, **values)


class PolicyOut(_Body):
    name: str
    version: int
    sha256: str
    author: str
    created_at_ns: int
    policy: dict[str, JsonValue]

    @classmethod
    def of(cls, stored: StoredPolicy) -> "PolicyOut":
        return cls(
            name=stored.name,
            version=stored.version,
            sha256=stored.sha256,
            author=stored.author,
            created_at_ns=stored.created_at_ns,
            policy=stored.policy.model_dump(mode="json"),
        )


class PolicyPut(_Body):
    """A policy document (the fields of a policy file; ``name`` is the path's)."""

    policy: dict[str, JsonValue]


class PolicyStored(_Body):
    created: bool  # False: this content is that version already
    policy: PolicyOut


class OverrideCreate(_Body):
    reason: Reason = Field(min_length=1)


class OverrideOut(_Body):
    ref: str
    content_hash: str
    actor: str
    reason: str
    at_ns: int

    @classmethod
    def of(cls, override: PromotionOverride) -> "OverrideOut":
        return cls(
            ref=f"{override.strategy_id}@{override.version}",
            content_hash=override.content_hash,
            actor=override.actor,
            reason=override.reason,
            at_ns=override.at_ns,
        )


class PromotionStatusOut(_Body):
    """Whether a version may trade, why, and the evidence either way."""

    ref: str
    content_hash: str
    tradable: bool
    reason: str
    latest: ValidationRecordOut | None
    passing: ValidationRecordOut | None
    override: OverrideOut | None
