"""The access-token codec (HS256 JWT) and the token secret's file; the argon2id hasher."""

import logging
import stat
import threading
from pathlib import Path

import argon2
import jwt
import pytest

from quantdesk.adapters.security.passwords import Argon2PasswordHasher
from quantdesk.adapters.security.tokens import JwtTokenCodec, token_secret
from quantdesk.domain.auth import Role
from quantdesk.domain.errors import AuthenticationError, InvalidInputError
from quantdesk.services.ports.auth import AccessClaims

SECRET = b"s" * 32
NOW = 1_800_000_000
CLAIMS = AccessClaims(
    subject="u1", role=Role.trader, token_id="t1", issued_s=NOW, expires_s=NOW + 900
)


def test_a_token_reads_back_until_it_expires() -> None:
    codec = JwtTokenCodec(SECRET)
    token = codec.issue(CLAIMS)
    assert codec.read(token, now_s=NOW + 899) == CLAIMS
    with pytest.raises(AuthenticationError):
        codec.read(token, now_s=NOW + 900)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) >= {"exp", "iat", "jti", "sub", "role"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_forged_tokens_are_refused() -> None:
    codec = JwtTokenCodec(SECRET)
    body = {
        "iss": "quantdesk",
        "typ": "access",
        "sub": "u1",
        "role": "admin",
        "jti": "x",
        "iat": NOW,
        "exp": NOW + 900,
    }
    forged = [
        JwtTokenCodec(b"o" * 32).issue(CLAIMS),  # another secret
        jwt.encode(body, key=None, algorithm="none"),  # unsigned
        jwt.encode(body, SECRET, algorithm="HS512"),  # not our algorithm
        jwt.encode({**body, "role": "root"}, SECRET, algorithm="HS256"),  # no such role
        jwt.encode({**body, "typ": "refresh"}, SECRET, algorithm="HS256"),
        jwt.encode({k: v for k, v in body.items() if k != "jti"}, SECRET, algorithm="HS256"),
        jwt.encode({**body, "iss": "elsewhere"}, SECRET, algorithm="HS256"),
        codec.issue(CLAIMS)[:-3] + "AAA",  # signature changed
        "not.a.token",
        "x" * 5000,
    ]
    for token in forged:
        with pytest.raises(AuthenticationError):
            codec.read(token, now_s=NOW)


def test_a_short_secret_is_refused_and_the_secret_never_shows() -> None:
    with pytest.raises(InvalidInputError):
        JwtTokenCodec(b"short")
    assert "s" * 32 not in repr(JwtTokenCodec(SECRET))


def test_the_secret_is_generated_private_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "home" / "secrets" / "token-secret"
    with caplog.at_level(logging.DEBUG):
        secret = token_secret(path)
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token_secret(path) == secret  # the next start reads the same one
    assert secret.decode() not in caplog.text
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "token-secret"
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(token_secret(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 8


def test_a_readable_secret_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token-secret"
    path.write_text("z" * 40)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert token_secret(path) == b"z" * 40
    assert "readable by others" in caplog.text and "z" * 40 not in caplog.text


def test_a_short_or_unwritable_secret_is_refused(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(InvalidInputError) as refused:
        token_secret(short)
    assert "abc" not in str(refused.value)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(InvalidInputError):
        token_secret(blocked / "token-secret")  # its folder is a file


def test_argon2id_hashes_verify_and_never_raise_on_a_mismatch() -> None:
    hasher = Argon2PasswordHasher(argon2.profiles.CHEAPEST)
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "wrong horse")
    assert not hasher.verify("not a hash", "correct horse")
    assert hasher.hash("correct horse") != hashed  # salted
    assert Argon2PasswordHasher().needs_rehash(hashed)  # cheap parameters: upgrade on login
