"""Exports one incident as an evidence bundle and records who took it (custody + audit)."""

from __future__ import annotations

import datetime as dt
import uuid

from evidence import store
from evidence.bundle import Bundle, BundleFile, build_bundle, sha256_hex, snapshot_path
from evidence.signing import PublicKey, SigningKey, load_signing_key
from ioc.security import audit


class EvidenceIntegrityError(Exception):
    """A stored snapshot no longer matches its SHA-256: the export is refused."""


def signing_key(settings) -> SigningKey | None:
    """The deployment's signing key (`evidence.signing_key_file`), None when not configured.
    Raises SigningKeyError (naming the file) when it is configured but unusable."""
    section = getattr(settings, "evidence", None)
    path = getattr(section, "signing_key_file", None)
    return load_signing_key(path) if path else None


def deployment_public_key(settings) -> PublicKey | None:
    key = signing_key(settings)
    return key.public if key else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def export_incident(
    conn,
    source: str,
    event_id: str,
    *,
    actor: str,
    ip: str | None = None,
    signing_key: SigningKey | None = None,
    now: dt.datetime | None = None,
) -> Bundle | None:
    """The bundle of one incident (None when there is no such incident).

    Runs in the caller's transaction: the custody entry of this export (which the bundle's
    custody log already contains), the audit entry and the `evidence_exports` row are
    committed together with the caller's commit.
    """
    inc = store.load_incident(conn, source, event_id)
    if inc is None:
        return None
    files = []
    media = [*store.incident_snapshots(conn, inc), *store.incident_clips(conn, inc)]
    for info in {m.sha256: m for m in media}.values():
        snap = store.load_snapshot(conn, info.sha256)
        if snap is None:
            continue
        if sha256_hex(snap.content) != snap.sha256:
            raise EvidenceIntegrityError(
                f"snapshot {snap.sha256} in the database does not match its SHA-256")
        files.append(BundleFile(
            snapshot_path(snap.sha256, snap.content_type), snap.content, snap.content_type,
            meta={"camera": snap.device_id, "label": snap.label, "received": _iso(snap.time)},
        ))
    bundle_id = str(uuid.uuid4())
    created_at = now or dt.datetime.now(dt.UTC)
    store.record_custody(conn, source, event_id, actor=actor, action="export", ip=ip,
                         details={"bundle_id": bundle_id, "files": len(files)}, audited=False)
    custody = [
        {"at": c.at, "actor": c.actor, "action": c.action, "ip": c.ip, "details": c.details}
        for c in store.load_custody(conn, source, event_id)
    ]
    reviews = [
        {"decision": r.decision, "reason": r.reason, "actor": r.actor, "at": r.at}
        for r in store.load_reviews(conn, source, event_id)
    ]
    notes = [{"note": n.note, "actor": n.actor, "at": n.at}
             for n in store.load_notes(conn, source, event_id)]
    bundle = build_bundle(
        incident=inc.document(), files=files, custody=custody, reviews=reviews, notes=notes,
        bundle_id=bundle_id, created_at=created_at, created_by=actor, signing_key=signing_key,
    )
    store.record_export(
        conn, source, event_id, bundle_id=bundle_id, manifest_sha256=bundle.manifest_sha256,
        bundle_sha256=bundle.bundle_sha256, files=bundle.files, size=len(bundle.content),
        signed=bundle.signed, actor=actor, ip=ip, signing_key=signing_key,
    )
    audit.record(conn, actor, "evidence.export", f"incident:{source}:{event_id}",
                 {"bundle_id": bundle_id, "manifest_sha256": bundle.manifest_sha256,
                  "bundle_sha256": bundle.bundle_sha256, "files": bundle.files,
                  "signed": bundle.signed, "key_id": bundle.key_id}, ip)
    return bundle
