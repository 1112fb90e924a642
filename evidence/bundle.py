"""An evidence bundle: one ZIP holding the snapshots and a manifest that pins them (pure).

Layout of the ZIP (format ioc-evidence-bundle/2):

    manifest.json     the incident, its reviews, notes and custody log, for every other file
                      of the bundle its path, size and SHA-256, and which key signed it
    manifest.sha256   the SHA-256 of manifest.json, as `sha256sum` writes it
    manifest.sig      the Ed25519 signature of manifest.json's bytes, base64, one line
                      (only when the deployment has a signing key: IOC_EVIDENCE_SIGNING_KEY_FILE)
    README.txt        how to check the bundle, with the deployment's public key and its
                      fingerprint (listed in the manifest like the snapshots)
    snapshots/<sha256>.<jpg|png>
    clips/<sha256>.mp4   the incident's video clip, when one was fetched from Frigate

A changed, removed or added file breaks the manifest's list; an edited manifest breaks
manifest.sha256, and an edited manifest with a recomputed hash breaks the signature, which
only the server's private key can make. See verify.py. Format 1 (before Ed25519) had
manifest.hmac instead of manifest.sig; verify.py still reads it, as unsigned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence.signing import ALGORITHM, PublicKey, SigningKey

FORMAT = "ioc-evidence-bundle/2"
FORMATS = ("ioc-evidence-bundle/1", FORMAT)  # what verify.py reads
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
MANIFEST_SIG = "manifest.sig"
MANIFEST_HMAC = "manifest.hmac"  # format 1 only
README = "README.txt"
RESERVED = frozenset({MANIFEST, MANIFEST_HASH, MANIFEST_SIG, MANIFEST_HMAC})

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4"}

README_TEXT = """\
Gói chứng cứ IOC / IOC evidence bundle

Kiểm tra gói này / To check this bundle:
  ioc evidence verify <file.zip> --public-key <khóa-công-khai.pem / public-key.pem>

Khóa công khai phải lấy từ chính IOC (trang /evidence/public-key.pem hoặc khóa tỉnh đã công
bố), KHÔNG lấy từ gói này; so dấu vân tay (fingerprint) bên dưới với khóa đã công bố.
Take the public key from the IOC itself (its page /evidence/public-key.pem, or the key the
province published), NOT from this bundle, and compare its fingerprint with the one below.

Kiểm tra thủ công / By hand (OpenSSL 3):
  1. sha256sum manifest.json  ->  phải bằng / must equal  manifest.sha256
  2. base64 -d manifest.sig > manifest.sig.bin
     openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin \\
         -in manifest.json -sigfile manifest.sig.bin
     ->  "Signature Verified Successfully"
  3. Mỗi tệp trong "files" của manifest.json có đúng SHA-256 và kích thước ghi ở đó;
     không có tệp nào khác ngoài manifest.json, manifest.sha256, manifest.sig.
     Every file listed under "files" in manifest.json has the SHA-256 and size given
     there, and there is no other file besides manifest.json, manifest.sha256, manifest.sig.

Ảnh trong gói là dữ liệu cá nhân (Nghị định 13/2023/NĐ-CP): chỉ dùng cho việc điều tra.
The images are personal data (Decree 13/2023/ND-CP): for the investigation only.
"""

UNSIGNED_README = """
Gói này KHÔNG được ký (IOC chưa có khóa ký): không chứng minh được nguồn gốc.
This bundle is NOT signed (the IOC had no signing key): its origin cannot be proven.
"""


def readme_text(public_key: PublicKey | None) -> str:
    """README.txt: how to check the bundle, and the signing key's fingerprint and PEM."""
    if public_key is None:
        return README_TEXT + UNSIGNED_README
    return (README_TEXT + "\nKhóa công khai của IOC đã ký gói này / Public key that signed "
            f"this bundle ({ALGORITHM}):\n  fingerprint: {public_key.key_id}\n\n"
            + public_key.pem())


@dataclass(frozen=True)
class BundleFile:
    """One file for the bundle, with what the manifest says about it besides its hash."""

    path: str
    content: bytes
    content_type: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Bundle:
    content: bytes  # the ZIP
    manifest: dict[str, Any]
    manifest_sha256: str
    bundle_sha256: str
    signed: bool
    filename: str
    files: int
    key_id: str | None = None  # the signing key's fingerprint


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot_path(sha256: str, content_type: str) -> str:
    """snapshots/<sha256>.jpg for a picture, clips/<sha256>.mp4 for a video clip."""
    folder = "clips" if content_type.startswith("video/") else "snapshots"
    return f"{folder}/{sha256}.{EXTENSIONS.get(content_type, 'bin')}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("bytes belong in a file of the bundle, not in the manifest")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def dumps(document: Mapping[str, Any]) -> bytes:
    """The manifest's bytes: stable key order, UTF-8, one trailing newline."""
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True,
                      default=_json_default)
    return (text + "\n").encode("utf-8")


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def build_bundle(
    *,
    incident: Mapping[str, Any],
    files: Sequence[BundleFile],
    custody: Sequence[Mapping[str, Any]] = (),
    reviews: Sequence[Mapping[str, Any]] = (),
    notes: Sequence[Mapping[str, Any]] = (),
    bundle_id: str,
    created_at: dt.datetime,
    created_by: str,
    signing_key: SigningKey | None = None,
) -> Bundle:
    """The ZIP and its manifest, signed when a key is given. Files are listed in the order
    given (README.txt first)."""
    public = signing_key.public if signing_key else None
    all_files = [BundleFile(README, readme_text(public).encode("utf-8"), "text/plain"), *files]
    paths = [f.path for f in all_files]
    if len(set(paths)) != len(paths) or RESERVED & set(paths):
        raise ValueError(f"bundle file paths must be unique and not reserved: {paths}")
    listed = []
    for f in all_files:
        entry = {"path": f.path, "sha256": sha256_hex(f.content), "size": len(f.content),
                 "content_type": f.content_type}
        entry.update({k: v for k, v in f.meta.items() if k not in entry})
        listed.append(entry)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "bundle_id": bundle_id,
        "created_at": created_at,
        "created_by": created_by,
        "incident": dict(incident),
        "reviews": [dict(r) for r in reviews],
        "notes": [dict(n) for n in notes],
        "custody": [dict(c) for c in custody],
        "files": listed,
        "signature": {"algorithm": ALGORITHM, "key_id": public.key_id} if public else None,
    }
    manifest_bytes = dumps(manifest)
    digest = sha256_hex(manifest_bytes)
    stamp = created_at.astimezone(dt.UTC).timetuple()[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        def put(name: str, data: bytes, compress: bool = True) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)

        put(MANIFEST, manifest_bytes)
        put(MANIFEST_HASH, f"{digest}  {MANIFEST}\n".encode())
        if signing_key:
            put(MANIFEST_SIG, (signing_key.sign(manifest_bytes) + "\n").encode())
        for f in all_files:
            put(f.path, f.content,
                compress=not f.content_type.startswith(("image/", "video/")))
    content = buf.getvalue()
    when = created_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = (f"evidence-{_safe_name(str(incident.get('source', 'x')))}-"
                f"{_safe_name(str(incident.get('event_id', 'x')))}-{when}.zip")
    return Bundle(content, manifest, digest, sha256_hex(content), public is not None, filename,
                  len(all_files), public.key_id if public else None)
