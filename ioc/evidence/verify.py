"""Checks an evidence bundle (bundle.py) and says exactly what changed (pure: reads bytes).

Detected: a file whose bytes or size differ from the manifest, a listed file that is missing,
a file that the manifest does not list, two entries under one name, a manifest that no
longer matches manifest.sha256, and (with the key) a manifest.hmac that does not match -- or
is missing although the verifier holds the key. Without the key, a manifest edited *and*
re-hashed can only be caught by comparing its hash with the one recorded at export time
(`ioc evidence verify --check-db`, or the hash written down when the bundle was handed over).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ioc.evidence.bundle import (
    FORMAT,
    HMAC_PREFIX,
    MANIFEST,
    MANIFEST_HASH,
    MANIFEST_HMAC,
    RESERVED,
    manifest_hmac,
)

MAX_ENTRY_BYTES = 256 * 1024 * 1024  # larger entries are not read (a bundle is far smaller)
MAX_MANIFEST_BYTES = 32 * 1024 * 1024


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest_sha256: str | None = None
    files_listed: int = 0
    files_ok: int = 0
    signature: str = "none"  # valid | invalid | missing | not_checked | none
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> tuple[bytes, bool]:
    """(content, complete) reading at most `cap` bytes whatever the header claims."""
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    return data[:cap], len(data) <= cap


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
    key: bytes | None = None,
    require_signature: bool = False,
) -> VerifyReport:
    """Check the bundle at `source` (a path, its bytes or an open binary file)."""
    report = VerifyReport()
    fileobj = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as err:
        report.problems.append(f"not a readable ZIP archive: {err}")
        return report
    with zf:
        return _verify(zf, report, key, require_signature)


def _verify(zf: zipfile.ZipFile, report: VerifyReport, key: bytes | None,
            require_signature: bool) -> VerifyReport:
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
    manifest_bytes, complete = _read_capped(zf, entries[MANIFEST], MAX_MANIFEST_BYTES)
    if not complete:
        report.problems.append(f"{MANIFEST}: larger than {MAX_MANIFEST_BYTES} bytes")
        return report
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    report.manifest_sha256 = digest

    # -- the manifest's own hash and signature -------------------------------------------------
    if MANIFEST_HASH not in entries:
        report.problems.append(f"{MANIFEST_HASH}: missing")
    else:
        text, _ = _read_capped(zf, entries[MANIFEST_HASH], 4096)
        recorded = text.decode("utf-8", "replace").split()[:1]
        if recorded != [digest]:
            report.problems.append(
                f"{MANIFEST}: changed (its SHA-256 is {digest}, {MANIFEST_HASH} says "
                f"{recorded[0] if recorded else 'nothing'})"
            )
    if MANIFEST_HMAC in entries:
        if key is None:
            report.signature = "not_checked"
            report.notes.append(f"{MANIFEST_HMAC}: not checked (no evidence key given)")
        else:
            text, _ = _read_capped(zf, entries[MANIFEST_HMAC], 4096)
            sent = text.decode("utf-8", "replace").strip()
            if sent.startswith(HMAC_PREFIX) and hmac.compare_digest(
                sent, manifest_hmac(key, manifest_bytes)
            ):
                report.signature = "valid"
            else:
                report.signature = "invalid"
                report.problems.append(
                    f"{MANIFEST_HMAC}: does not match {MANIFEST} under the evidence key "
                    "(the manifest was edited, or another key signed it)"
                )
    elif key is not None or require_signature:
        report.signature = "missing"
        report.problems.append(
            f"{MANIFEST_HMAC}: missing, but bundles of this province are signed "
            "(removed, or exported without the key)"
        )

    # -- the manifest's content -------------------------------------------------------------------
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        report.problems.append(f"{MANIFEST}: not valid JSON ({err})")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"{MANIFEST}: not an {FORMAT} manifest")
        return report
    report.manifest = manifest
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
        got = _hash_entry(zf, info)
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


def format_report(report: VerifyReport, name: str) -> str:
    """The text `ioc evidence verify` prints."""
    lines = [f"bundle: {name}"]
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
        "valid": "HMAC-SHA256 valid",
        "invalid": "HMAC-SHA256 INVALID",
        "missing": "MISSING",
        "not_checked": "present, not checked (set IOC_EVIDENCE_HMAC_KEY to check it)",
        "none": "none",
    }[report.signature])
    lines += [f"note: {n}" for n in report.notes]
    if report.ok:
        lines.append("RESULT: OK - no change detected")
    else:
        lines.append(f"RESULT: TAMPERED - {len(report.problems)} problem(s):")
        lines += [f"  - {p}" for p in report.problems]
    return "\n".join(lines)
