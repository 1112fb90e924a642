"""Flask routes for camera evidence: snapshot images and evidence bundles.

- `GET /evidence/snapshot/<sha256>[?incident=<source>:<event_id>]`: the original image for
  police and admin, a blurred copy (evidence.blur) for every other logged-in role, 401
  for nobody. Every view is written to the audit log (`evidence.view`); an original viewed
  for an incident it belongs to also goes into that incident's custody log.
- `POST /evidence/bundle/<source>/<event_id>`: the incident's evidence bundle (ZIP), for
  the roles that may act on the police page; needs the CSRF token like every POST. The
  export is recorded in the custody log, the audit log and `evidence_exports`, and signed
  with the deployment's Ed25519 key (IOC_EVIDENCE_SIGNING_KEY_FILE) when it has one.
- `GET /evidence/public-key.pem`: the deployment's public key, for anyone (no log-in), so a
  prosecutor can check a bundle with it alone; its fingerprint in `X-Evidence-Key-Id`.

The app's gate (dashboards/auth.py) has already refused anonymous requests and bad CSRF
tokens before these views run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

from flask import Response, jsonify, request

from dashboards import auth
from dashboards.context import context
from evidence import store
from evidence.blur import BlurError, blur_image
from evidence.export import EvidenceIntegrityError, export_incident, signing_key
from evidence.privacy import may_see_sensitive
from evidence.signing import SigningKeyError
from ioc.security import audit

log = logging.getLogger(__name__)

SHA256 = re.compile(r"^[0-9a-f]{64}$")
PAGE = "police"
PUBLIC_KEY_PATH = "/evidence/public-key.pem"  # public: listed in auth.PUBLIC_PATHS


class _BlurCache:
    """Blurred copies by SHA-256 (the same snapshot is blurred once per process)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str, content: bytes) -> bytes:
        with self._lock:
            if sha256 in self._data:
                self._data.move_to_end(sha256)
                return self._data[sha256]
        blurred = blur_image(content)
        with self._lock:
            self._data[sha256] = blurred
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return blurred


BLURRED = _BlurCache()


def _error(status: int, error: str, detail: str = "") -> Response:
    resp = jsonify(error=error, detail=detail)
    resp.status_code = status
    return resp


def _image(content: bytes, content_type: str, variant: str) -> Response:
    return Response(content, mimetype=content_type, headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": "inline",
        "X-Evidence-Variant": variant,
    })


def snapshot_view(sha256: str) -> Response:
    role = auth.current_role()
    if role is None:
        return _error(401, "login_required", "log in first")
    if not SHA256.fullmatch(sha256):
        return _error(404, "not_found", "snapshots are named by their SHA-256")
    actor, ip = auth.current_actor(), auth.client_ip()
    sensitive = may_see_sensitive(role)
    variant = "original" if sensitive else "blurred"
    incident = store.split_key(request.args.get("incident"))
    with context().pool.connection() as conn, conn.transaction():
        snap = store.load_snapshot(conn, sha256)
        if snap is None:
            return _error(404, "not_found", "no such snapshot")
        details = {"variant": variant, "camera": snap.device_id}
        if incident is not None:
            inc = store.load_incident(conn, *incident)
            belongs = inc is not None and any(
                s.sha256 == sha256 for s in store.incident_snapshots(conn, inc))
            if belongs:
                details["incident"] = f"{incident[0]}:{incident[1]}"
                if sensitive:
                    store.record_custody(conn, *incident, actor=actor, action="view_snapshot",
                                         ip=ip, details={"sha256": sha256}, audited=False)
        audit.record(conn, actor, "evidence.view", f"snapshot:{sha256}", details, ip)
    if sensitive:
        return _image(snap.content, snap.content_type, variant)
    try:
        return _image(BLURRED.get(sha256, snap.content), "image/jpeg", variant)
    except BlurError as err:
        log.warning("snapshot %s withheld: %s", sha256, err)
        return _error(403, "withheld", "this image is shown to police only")


def bundle_view(source: str, event_id: str) -> Response:
    if store.split_key(f"{source}:{event_id}") is None:
        return _error(404, "not_found", "no such incident")
    c = context()
    try:
        key = signing_key(c.settings)
    except SigningKeyError as err:
        log.error("evidence export refused: %s", err)
        return _error(503, "signing_key", "the evidence signing key cannot be read")
    try:
        with c.pool.connection() as conn, conn.transaction():
            bundle = export_incident(
                conn, source, event_id, actor=auth.current_actor(), ip=auth.client_ip(),
                signing_key=key,
            )
    except EvidenceIntegrityError as err:
        log.error("evidence export refused for %s:%s: %s", source, event_id, err)
        return _error(409, "integrity", str(err))
    if bundle is None:
        return _error(404, "not_found", "no such incident")
    log.info("evidence bundle %s exported for %s:%s by %s", bundle.manifest_sha256, source,
             event_id, auth.current_actor())
    return Response(bundle.content, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{bundle.filename}"',
        "Cache-Control": "private, no-store",
        "X-Evidence-Manifest-SHA256": bundle.manifest_sha256,
    })


def public_key_view() -> Response:
    try:
        key = signing_key(context().settings)
    except SigningKeyError as err:
        log.error("evidence public key unavailable: %s", err)
        return _error(503, "signing_key", "the evidence signing key cannot be read")
    if key is None:
        return _error(404, "not_found", "this installation does not sign evidence bundles")
    return Response(key.public.pem(), mimetype="application/x-pem-file", headers={
        "Cache-Control": "public, max-age=300",
        "Content-Disposition": 'inline; filename="ioc-evidence-public-key.pem"',
        "X-Evidence-Key-Id": key.public.key_id,
    })


def register_evidence_routes(server) -> None:
    """Mount the evidence routes on the app's Flask server (called from create_app)."""
    server.add_url_rule(PUBLIC_KEY_PATH, "evidence_public_key", public_key_view,
                        methods=["GET"])
    server.add_url_rule("/evidence/snapshot/<sha256>", "evidence_snapshot", snapshot_view,
                        methods=["GET"])
    server.add_url_rule(
        "/evidence/bundle/<source>/<path:event_id>", "evidence_bundle",
        auth.require_page(PAGE, act=True)(bundle_view), methods=["POST"],
    )
