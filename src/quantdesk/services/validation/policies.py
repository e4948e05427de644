"""Validation policies: YAML documents versioned in the database, a default shipped.

The default (``ValidationPolicy(name="default")``, the same as
``examples/validation/default-policy.yaml``) is written as version 1 the first time anyone
asks for it, so a fresh desk validates without setup and every record still names a stored
policy version. Setting a policy stores a new version only when its content changed: the
version a record names is then the content that judged it.
"""

import hashlib
import time
from collections.abc import Callable

from quantdesk.domain.errors import NotFoundError
from quantdesk.domain.strategies.canonical import canonical_json
from quantdesk.domain.text import shown, validate_actor
from quantdesk.domain.validation.policy import (
    DEFAULT_POLICY_NAME,
    StoredPolicy,
    ValidationPolicy,
)
from quantdesk.services.document_models import model_from_document
from quantdesk.services.ports.documents import Document
from quantdesk.services.ports.validation import PolicyStore

SEED_ACTOR = "quantdesk"  # the author of the seeded default
_HINT = "see examples/validation/default-policy.yaml and docs/validation.md"


def policy_sha256(policy: ValidationPolicy) -> str:
    """Of the canonical JSON of every field, defaults included: equal content, equal hash."""
    return hashlib.sha256(canonical_json(policy.model_dump(mode="json")).encode()).hexdigest()


def policy_from_document(document: Document) -> ValidationPolicy:
    """The policy a document holds; a refused field is named with its line."""
    return model_from_document(
        ValidationPolicy, document, what="policy", hint=_HINT, code="invalid_policy"
    )


class PolicyService:
    """Built by ``bootstrap_research`` on the registry's database."""

    def __init__(self, store: PolicyStore, clock: Callable[[], int] = time.time_ns) -> None:
        self._store = store
        self._clock = clock

    def current(self, name: str | None = None) -> StoredPolicy:
        """The newest version of ``name`` (the default when None; seeded on first use)."""
        name = DEFAULT_POLICY_NAME if name is None else name
        found = self._store.current(name)
        if found is not None:
            return found
        if name == DEFAULT_POLICY_NAME:
            return self.store(ValidationPolicy(name=DEFAULT_POLICY_NAME), SEED_ACTOR)[0]
        raise self._unknown(name)

    def get(self, name: str, version: int | None = None) -> StoredPolicy:
        """One version (the newest when None), or NotFoundError."""
        if version is None:
            return self.current(name)
        found = self._store.get(name, version)
        if found is None and name == DEFAULT_POLICY_NAME and version == 1:
            self.current(name)  # the default's first version exists once anyone asks
            found = self._store.get(name, version)
        if found is None:
            raise NotFoundError(
                f"validation policy {shown(name)} has no version {version}",
                hint="see the policy's history for its versions",
                code="policy_not_found",
                data={"name": name[:64], "version": version},
            )
        return found

    def history(self, name: str) -> list[StoredPolicy]:
        """Every version of ``name``, oldest first."""
        if name == DEFAULT_POLICY_NAME:
            self.current(name)
        versions = self._store.history(name)
        if not versions:
            raise self._unknown(name)
        return versions

    def names(self) -> list[str]:
        self.current(DEFAULT_POLICY_NAME)
        return self._store.names()

    def set(self, document: Document, actor: str) -> StoredPolicy:
        """Store the policy a (bounded-read) document holds: a new version when it changed."""
        return self.set_document(document, actor)[0]

    def set_document(self, document: Document, actor: str) -> tuple[StoredPolicy, bool]:
        """Like ``set``, and whether a new version was stored (False: the content was)."""
        policy = policy_from_document(document)
        if policy.name == DEFAULT_POLICY_NAME:
            self.current(policy.name)  # seeded first: a changed default is version 2
        return self.store(policy, actor)

    def store(self, policy: ValidationPolicy, actor: str) -> tuple[StoredPolicy, bool]:
        """The stored version holding ``policy``, and whether this call created it."""
        return self._store.add(
            policy, sha256=policy_sha256(policy), actor=validate_actor(actor), at_ns=self._clock()
        )

    @staticmethod
    def _unknown(name: str) -> NotFoundError:
        return NotFoundError(
            f"there is no validation policy {shown(name)}",
            hint="set the policy from a file first (the default policy exists always)",
            code="policy_not_found",
            data={"name": name[:64]},
        )
