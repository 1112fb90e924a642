"""Checks an evidence bundle (bundle.py) and says exactly what changed (pure: reads bytes).

Detected: a file whose bytes or size differ from the manifest, a listed file that is missing,
a file that the manifest does not list, two entries under one name, a manifest that no
longer matches manifest.sha256, a manifest.sig that does not match the manifest under the key
the manifest names, a signature removed from a bundle whose manifest says it was signed. A
damaged archive (a flipped byte fails an entry's CRC-32 or its deflate stream, a truncated
file loses its central directory) is reported as tampered, never raised.

Origin is proven only by a valid Ed25519 signature under the *trusted* public key -- the one
published by the deployment, given by the verifier (`--public-key`), never the copy inside the
bundle: a forger who rewrites the manifest can re-sign it with a key of their own and put that
key in the README. Such a bundle is intact but "signed by an unknown key"; an unsigned bundle
is "integrity only". Neither proves where it came from.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from evidence.bundle import (
    FORMATS,
    MANIFEST,
    MANIFEST_HASH,
    MANIFEST_HMAC,
    MANIFEST_SIG,
    README,
    RESERVED,
)
from evidence.signing import PublicKey, SigningKeyError, public_key_from_pem

MAX_ENTRY_BYTES = 256 * 1024 * 1024  # larger entries are not read (a bundle is far smaller)
MAX_MANIFEST_BYTES = 32 * 1024 * 1024

# What reading a damaged archive raises: a bad CRC-32 or header (BadZipFile), a broken deflate
# stream (zlib.error), a cut-off entry (EOFError), an encrypted entry (RuntimeError), an
# unknown compression method (NotImplementedError), unreadable bytes (OSError), nonsense
# offsets or sizes (ValueError).
READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, RuntimeError,
    NotImplementedError, OSError, ValueError,
)

UNSIGNED = "integrity only: not signed, cannot prove origin"
LEGACY = "integrity only: signed with the retired HMAC scheme (format 1), which a public " \
    "key cannot check, cannot prove origin"
_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----")


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest_sha256: str | None = None
    files_listed: int = 0
    files_ok: int = 0
    # valid | invalid | missing | unknown_key | legacy_hmac | none
    signature: str = "none"
    key_id: str | None = None  # the key the manifest says signed it
    trusted_key_id: str | None = None  # the public key the verifier trusts
    manifest: dict[str, Any] | None = None
    bundle_sha256: str | None = None  # of the whole file, as recorded in evidence_exports
    bundle_size: int | None = None
    recorded_export: int | None = None  # evidence_exports.id of a byte-identical export

    @property
    def ok(self) -> bool:
        """Nothing changed since the manifest was written (says nothing about who wrote it)."""
        return not self.problems

    @property
    def origin_proven(self) -> bool:
        """Unchanged *and* made by this installation: signed under the trusted public key, or
        the very file of an export record signed by it (`--check-db`)."""
        return self.ok and (self.signature == "valid" or self.recorded_export is not None)

    @property
    def assurance(self) -> str:
        """signed | recorded | integrity_only | none (tampered)."""
        if not self.ok:
            return "none"
        if self.signature == "valid":
            return "signed"
        if self.recorded_export is not None:
            return "recorded"
        return "integrity_only"

    @property
    def origin(self) -> str:
        """One sentence on what the check proves about where the bundle comes from."""
        if not self.ok:
            return "not proven: the bundle was changed or is damaged"
        if self.signature == "valid":
            return f"proven: Ed25519 signature valid under the public key {self.trusted_key_id}"
        if self.recorded_export is not None:
            return (f"proven: byte-identical to export #{self.recorded_export} recorded (and "
                    "signed) by this installation")
        if self.signature == "unknown_key":
            if self.trusted_key_id is None:
                return (f"not proven: signed by the key {self.key_id}, but no trusted public "
                        "key was given to check it against (--public-key)")
            return (f"not proven: signed by the key {self.key_id}, not by the trusted key "
                    f"{self.trusted_key_id} (another installation, or re-signed by a forger)")
        return LEGACY if self.signature == "legacy_hmac" else UNSIGNED


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> tuple[bytes, bool]:
    """(content, complete) reading at most `cap` bytes whatever the header claims."""
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    return data[:cap], len(data) <= cap


def _damaged(name: str, err: Exception) -> str:
    return (f"{name}: damaged in the archive, cannot be read "
            f"({type(err).__name__}: {err or 'no detail'})")


def _hash_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int] | None:
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            if size > MAX_ENTRY_BYTES:
                return None
            digest.update(chunk)
    return digest.hexdigest(), size


def verify_bundle(
    source: str | Path | bytes | IO[bytes],
    *,
    public_key: PublicKey | None = None,
) -> VerifyReport:
    """Check the bundle at `source` (a path, its bytes or an open binary file) against the
    trusted `public_key` (None: the signature is checked for consistency only)."""
    report = VerifyReport(trusted_key_id=public_key.key_id if public_key else None)
    try:
        fileobj = _whole_file(source, report)
        zf = zipfile.ZipFile(fileobj)
    except READ_ERRORS as err:
        report.problems.append(
            f"not a readable ZIP archive ({type(err).__name__}: {err or 'no detail'})")
        return report
    with zf:
        try:
            return _verify(zf, report, public_key)
        except READ_ERRORS as err:  # a damage that no entry-level check caught
            report.problems.append(_damaged("archive", err))
            return report


def _whole_file(source: str | Path | bytes | IO[bytes], report: VerifyReport) -> IO[bytes]:
    """An open binary file of the bundle, after hashing all of it into `report`."""
    if isinstance(source, bytes | bytearray):
        fileobj: IO[bytes] = io.BytesIO(source)
    elif isinstance(source, str | Path):
        fileobj = io.BytesIO(Path(source).read_bytes())
    else:
        fileobj = source
    start = fileobj.tell()
    digest, size = hashlib.sha256(), 0
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(start)
    report.bundle_sha256, report.bundle_size = digest.hexdigest(), size
    return fileobj


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, report: VerifyReport) -> bytes | None:
    """The first 4 KiB of a small entry, or None (and a problem) when it cannot be read."""
    try:
        return _read_capped(zf, info, 4096)[0]
    except READ_ERRORS as err:
        report.problems.append(_damaged(info.filename, err))
        return None


def _verify(zf: zipfile.ZipFile, report: VerifyReport,
            public_key: PublicKey | None) -> VerifyReport:
    infos = zf.infolist()
    names = [i.filename for i in infos]
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename in entries:
            report.problems.append(f"{info.filename}: appears more than once in the archive")
        entries[info.filename] = info
    if MANIFEST not in entries:
        report.problems.append(f"{MANIFEST}: missing")
        return report
    try:
        manifest_bytes, complete = _read_capped(zf, entries[MANIFEST], MAX_MANIFEST_BYTES)
    except READ_ERRORS as err:
        report.problems.append(_damaged(MANIFEST, err))
        return report
    if not complete:
        report.problems.append(f"{MANIFEST}: larger than {MAX_MANIFEST_BYTES} bytes")
        return report
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    report.manifest_sha256 = digest

    # -- the manifest's own hash and signature -------------------------------------------------
    if MANIFEST_HASH not in entries:
        report.problems.append(f"{MANIFEST_HASH}: missing")
    elif (text := _read_small(zf, entries[MANIFEST_HASH], report)) is not None:
        recorded = text.decode("utf-8", "replace").split()[:1]
        if recorded != [digest]:
            report.problems.append(
                f"{MANIFEST}: changed (its SHA-256 is {digest}, {MANIFEST_HASH} says "
                f"{recorded[0] if recorded else 'nothing'})"
            )
    # -- the manifest's content -------------------------------------------------------------------
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        report.problems.append(f"{MANIFEST}: not valid JSON ({err})")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") not in FORMATS:
        report.problems.append(f"{MANIFEST}: not an {' or '.join(FORMATS)} manifest")
        return report
    report.manifest = manifest
    _check_signature(zf, entries, manifest, manifest_bytes, report, public_key)
    listed = manifest.get("files")
    if not isinstance(listed, list) or not all(isinstance(f, dict) for f in listed):
        report.problems.append(f"{MANIFEST}: 'files' is not a list of files")
        return report
    report.files_listed = len(listed)

    # -- every listed file, then every file not listed --------------------------------------------
    listed_paths: set[str] = set()
    for item in listed:
        path, want, size = item.get("path"), item.get("sha256"), item.get("size")
        if not isinstance(path, str) or path in RESERVED:
            report.problems.append(f"{MANIFEST}: a file entry has a bad path {path!r}")
            continue
        listed_paths.add(path)
        info = entries.get(path)
        if info is None:
            report.problems.append(f"{path}: missing (listed in the manifest)")
            continue
        try:
            got = _hash_entry(zf, info)
        except READ_ERRORS as err:
            report.problems.append(_damaged(path, err))
            continue
        if got is None:
            report.problems.append(f"{path}: larger than {MAX_ENTRY_BYTES} bytes")
            continue
        got_hash, got_size = got
        if got_hash != want:
            report.problems.append(f"{path}: changed (SHA-256 {got_hash}, manifest says {want})")
        elif got_size != size:
            report.problems.append(f"{path}: size {got_size} differs from the manifest's {size}")
        else:
            report.files_ok += 1
    for name in dict.fromkeys(names):
        if name not in listed_paths and name not in RESERVED:
            report.problems.append(f"{name}: added (not listed in the manifest)")
    return report


def _embedded_key(zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo],
                  report: VerifyReport) -> PublicKey | None:
    """The public key printed in README.txt (untrusted: only to see if the bundle is
    consistent with the key it names)."""
    info = entries.get(README)
    if info is None:
        return None
    try:
        text = _read_capped(zf, info, 64 * 1024)[0]
    except READ_ERRORS:
        return None  # reported with the README's own check
    m = _PEM.search(text)
    if m is None:
        return None
    try:
        return public_key_from_pem(m[0], README)
    except SigningKeyError:
        return None


def _check_signature(zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo],
                     manifest: dict[str, Any], manifest_bytes: bytes, report: VerifyReport,
                     public_key: PublicKey | None) -> None:
    declared = manifest.get("signature")
    if manifest.get("format") == FORMATS[0]:  # HMAC era: no public key can check it
        if declared or MANIFEST_HMAC in entries:
            report.signature = "legacy_hmac"
            report.notes.append(f"{MANIFEST_HMAC}: format 1 (HMAC) signature, not checked")
        return
    if MANIFEST_HMAC in entries:
        report.problems.append(f"{MANIFEST_HMAC}: added (format 2 bundles have no HMAC)")
    key_id = declared.get("key_id") if isinstance(declared, dict) else None
    report.key_id = key_id if isinstance(key_id, str) else None
    if MANIFEST_SIG not in entries:
        if declared:
            report.signature = "missing"
            report.problems.append(
                f"{MANIFEST_SIG}: missing, but {MANIFEST} says the bundle was signed by "
                f"{report.key_id}: the signature was removed")
        return
    text = _read_small(zf, entries[MANIFEST_SIG], report)
    if text is None:
        report.signature = "invalid"
        return
    signature = text.decode("ascii", "replace").strip()
    if report.key_id is None:
        report.signature = "invalid"
        report.problems.append(
            f"{MANIFEST_SIG}: present, but {MANIFEST} names no signing key (the manifest's "
            "'signature' was removed)")
        return
    if public_key is not None and public_key.key_id == report.key_id:
        if public_key.verify(signature, manifest_bytes):
            report.signature = "valid"
        else:
            report.signature = "invalid"
            report.problems.append(
                f"{MANIFEST_SIG}: does not match {MANIFEST} under the public key "
                f"{report.key_id} (the manifest was changed after it was signed)")
        return
    embedded = _embedded_key(zf, entries, report)
    if embedded is not None and embedded.key_id == report.key_id:
        if embedded.verify(signature, manifest_bytes):
            report.signature = "unknown_key"
        else:
            report.signature = "invalid"
            report.problems.append(
                f"{MANIFEST_SIG}: does not match {MANIFEST} under the key the bundle names, "
                f"{report.key_id} (the manifest was changed after it was signed)")
        return
    report.signature = "unknown_key"
    report.notes.append(f"{MANIFEST_SIG}: the key {report.key_id} is not in {README}; the "
                        "signature could not be checked")


def format_report(report: VerifyReport, name: str) -> str:
    """The text `ioc evidence verify` prints."""
    lines = [f"bundle: {name}"]
    if report.bundle_sha256:
        lines.append(f"file SHA-256: {report.bundle_sha256} ({report.bundle_size} bytes)")
    if report.manifest_sha256:
        lines.append(f"manifest SHA-256: {report.manifest_sha256}")
    m = report.manifest or {}
    incident = m.get("incident") or {}
    if incident:
        lines.append(f"incident: {incident.get('source')}:{incident.get('event_id')} "
                     f"({incident.get('type') or incident.get('label')}, "
                     f"camera {incident.get('device_id')})")
    if m:
        lines.append(f"exported: {m.get('created_at')} by {m.get('created_by')}")
    lines.append(f"files: {report.files_ok} of {report.files_listed} listed files intact")
    lines.append("signature: " + {
        "valid": f"Ed25519 valid (key {report.key_id})",
        "invalid": "Ed25519 INVALID",
        "missing": "MISSING",
        "unknown_key": f"Ed25519 by an UNKNOWN key {report.key_id}",
        "legacy_hmac": "format 1 HMAC-SHA256 (not checked: no public key can check it)",
        "none": "none (the bundle is not signed)",
    }[report.signature])
    if report.trusted_key_id:
        lines.append(f"trusted public key: {report.trusted_key_id}")
    lines += [f"note: {n}" for n in report.notes]
    lines.append(f"origin: {report.origin}")
    if report.origin_proven:
        lines.append("RESULT: OK - no change detected, origin proven")
    elif report.ok:
        lines.append(f"RESULT: NOT PROVEN - no change detected, but {report.origin}")
    else:
        lines.append(f"RESULT: TAMPERED - {len(report.problems)} problem(s):")
        lines += [f"  - {p}" for p in report.problems]
    return "\n".join(lines)
