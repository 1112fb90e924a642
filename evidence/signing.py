"""The deployment's Ed25519 key pair: signs evidence bundles and export records (pure but for
reading and writing the key file).

The private key lives in one PEM file on the web server only (IOC_EVIDENCE_SIGNING_KEY_FILE);
the public key is published (GET /evidence/public-key.pem, the police page, each bundle's
README), so anyone can check a signature and nobody but the server can make one -- unlike
the HMAC key used before, which whoever could verify could also sign with.

A key is named by its fingerprint, `sha256:<hex of the SHA-256 of the 32 raw public key
bytes>`; a signature travels as base64 text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "ed25519"
MAX_KEY_FILE_BYTES = 16 * 1024


class SigningKeyError(Exception):
    """A key file that is missing or is no Ed25519 key; the message names the file."""


@dataclass(frozen=True)
class PublicKey:
    raw: bytes  # the 32 bytes of the Ed25519 public key

    @property
    def key_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()

    def pem(self) -> str:
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def verify(self, signature_b64: str, data: bytes) -> bool:
        """True when `signature_b64` is this key's signature of `data`."""
        try:
            signature = base64.b64decode(signature_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sign(self, data: bytes) -> str:
        """The base64 Ed25519 signature of `data` (deterministic: same key, same bytes)."""
        return base64.b64encode(self.private.sign(data)).decode("ascii")


def public_key_from_pem(data: bytes, where: str = "public key") -> PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo, as published)."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(f"{where}: not a PEM public key ({err})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{where}: not an Ed25519 public key")
    return PublicKey(key.public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw))


def read_public_key(path: Path) -> PublicKey:
    """The public key in `path`: a published public key, or the private key file itself."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        return _private_from(data, path).public
    return public_key_from_pem(data, str(path))


def load_signing_key(path: Path) -> SigningKey:
    """The deployment's private key (PKCS#8 PEM, unencrypted)."""
    return _private_from(_read(path), path)


def _read(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as err:
        raise SigningKeyError(f"{path}: cannot read the key file ({err.strerror})") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"{path}: too large for a key file")
    return data


def _private_from(data: bytes, path: Path) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key ({err})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return SigningKey(key)


def generate_key_file(path: Path) -> SigningKey:
    """A new key pair written to `path` (mode 0600); never overwrites an existing file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return SigningKey(key)


def ensure_key_file(path: Path) -> SigningKey:
    """The key in `path`, made first when the file does not exist (the demo's key)."""
    if not path.exists():
        try:
            return generate_key_file(path)
        except FileExistsError:  # another process made it meanwhile
            pass
    return load_signing_key(path)
