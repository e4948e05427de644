"""Access tokens as HS256 JWTs (PyJWT), and the secret that signs them, kept in a file.

PyJWT checks expiry against the wall clock only; the service has a clock of its own (tests
move it), so expiry is checked here against the time the service passes in, and PyJWT is
told to require the claims but not to judge their times.
"""

import logging
import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Final

import jwt

from quantdesk.domain.auth import Role
from quantdesk.domain.errors import AuthenticationError, InvalidInputError
from quantdesk.services.ports.auth import AccessClaims

log = logging.getLogger(__name__)

ALGORITHM: Final = "HS256"
ISSUER: Final = "quantdesk"
TOKEN_TYPE: Final = "access"
MIN_SECRET_BYTES: Final = 32
MAX_TOKEN_CHARS: Final = 4096
_REQUIRED: Final = ["exp", "iat", "jti", "sub", "role", "iss"]


class JwtTokenCodec:
    """The ``TokenCodec`` port: HS256, issuer ``quantdesk``, claims exp/iat/jti/sub/role."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise InvalidInputError(
                f"the token secret is too short ({len(secret)} bytes)",
                code="token_secret_short",
                data={"min_bytes": MIN_SECRET_BYTES},
            )
        self._secret = secret

    def __repr__(self) -> str:
        return "JwtTokenCodec(<secret>)"

    def issue(self, claims: AccessClaims) -> str:
        return jwt.encode(
            {
                "iss": ISSUER,
                "typ": TOKEN_TYPE,
                "sub": claims.subject,
                "role": claims.role.value,
                "jti": claims.token_id,
                "iat": claims.issued_s,
                "exp": claims.expires_s,
            },
            self._secret,
            algorithm=ALGORITHM,
        )

    def read(self, token: str, *, now_s: int) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise _invalid()
        try:
            body = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # never "none", never a key-confusion algorithm
                issuer=ISSUER,
                options={
                    "require": _REQUIRED,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidTokenError:
            raise _invalid() from None
        try:
            claims = AccessClaims(
                subject=_text(body["sub"]),
                role=Role(body["role"]),
                token_id=_text(body["jti"]),
                issued_s=_seconds(body["iat"]),
                expires_s=_seconds(body["exp"]),
            )
        except (ValueError, TypeError):
            raise _invalid() from None
        if body.get("typ") != TOKEN_TYPE or now_s >= claims.expires_s:
            raise _invalid()
        return claims


def new_token_id() -> str:
    return uuid.uuid4().hex


def token_secret(path: Path) -> bytes:
    """The signing secret in ``path``, generated there (mode 0600, its folder 0700) when absent.

    Several server processes may start at once: the secret is written to a private temporary
    file and linked into place, so a process reads either nothing or the whole secret, and
    all of them end with the same one.
    """
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise _unusable(path, error) from None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(MIN_SECRET_BYTES) + "\n")
            try:
                os.link(temporary, path)  # fails when another process linked its own first
                log.info("generated a new token secret in %s", path)
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
        return _read_secret(path)
    except OSError as error:
        raise _unusable(path, error) from None


def _unusable(path: Path, error: OSError) -> InvalidInputError:
    return InvalidInputError(
        f"the token secret file {path} cannot be created or read: {error.strerror or error}",
        code="token_secret_unreadable",
        hint="point QUANTDESK_TOKEN_SECRET_FILE at a writable location",
    )


def _read_secret(path: Path) -> bytes:
    with path.open("rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        secret = file.read(64 * 1024).strip()
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the token secret file %s is readable by others: chmod 600 it", path)
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidInputError(
            f"the token secret in {path} is too short ({len(secret)} bytes)",
            code="token_secret_short",
            data={"min_bytes": MIN_SECRET_BYTES},
            hint="delete the file to have a new secret generated, or write a random one",
        )
    return secret


def _invalid() -> AuthenticationError:
    return AuthenticationError("invalid or expired credentials")


def _text(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ValueError("not a short text")
    return value


def _seconds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a time")
    return int(value)
