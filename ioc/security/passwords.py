"""Password hashing (argon2id), verification in constant time, and the password policy."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults follow RFC 9106's second recommendation (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()
# Verified when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MAX_LENGTH = 1024  # longer "passwords" are refused before hashing (hashing cost is per byte)


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> Verification:
    """Whether `password` matches; `password_hash=None` (no such user) takes the same time."""
    if len(password) > MAX_LENGTH:
        return Verification(False)
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(False)
    if password_hash is None:
        return Verification(False)
    return Verification(True, _hasher.check_needs_rehash(password_hash))


def password_problem(password: str, *, min_length: int, username: str = "") -> str | None:
    """Why `password` is not acceptable, or None when it is."""
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    if password.strip() != password:
        return "must not start or end with a space"
    if username and username.lower() in password.lower():
        return "must not contain the username"
    if len(set(password)) < 4:
        return "is too simple (needs at least 4 different characters)"
    return None


def generate_password(length: int = 16) -> str:
    """A random password of letters and digits (no look-alike characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw
