"""``Argon2PasswordHasher``: the ``PasswordHasher`` port on argon2-cffi (argon2id, RFC 9106
low-memory parameters by default)."""

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    """argon2id hashes with a random salt each; tests may pass cheaper ``parameters``."""

    def __init__(self, parameters: argon2.Parameters | None = None) -> None:
        self._hasher = (
            argon2.PasswordHasher()
            if parameters is None
            else argon2.PasswordHasher.from_parameters(parameters)
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False  # a wrong password, or a stored hash that is not argon2 at all

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
