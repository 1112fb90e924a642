"""Snapshots and clips of Frigate incidents, fetched from Frigate's HTTP API and stored by
their SHA-256 (camera_snapshots), linked to the incident (incident_media, 0016).

Frigate keeps the best frame and the recording of every tracked object and serves them at
`GET /api/events/<id>/snapshot.jpg` and `GET /api/events/<id>/clip.mp4`. Only incidents in
the police queue are fetched (what needs a decision needs its proof), once they have ended
(the clip is complete then). Bytes are checked before they are stored: a snapshot must be a
JPEG or PNG, a clip an MP4 (`ftyp` box), both within the size limits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

log = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
MAX_CLIP_BYTES = 200 * 1024 * 1024
JPEG = b"\xff\xd8\xff"
PNG = b"\x89PNG\r\n\x1a\n"


class FrigateError(Exception):
    """Frigate answered, but not with what was asked (or not at all): the reason."""


@dataclass(frozen=True)
class Media:
    kind: str  # snapshot | clip
    content: bytes
    content_type: str
    url: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def media_type(kind: str, content: bytes) -> str | None:
    """The content type of fetched bytes, or None when they are not what `kind` must be."""
    if kind == "snapshot":
        if content.startswith(JPEG):
            return "image/jpeg"
        if content.startswith(PNG):
            return "image/png"
        return None
    if len(content) >= 12 and content[4:8] == b"ftyp":
        return "video/mp4"
    return None


class FrigateClient:
    """Frigate's HTTP API at `base_url` (e.g. http://frigate:5000)."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def url(self, event_id: str, kind: str) -> str:
        name = "snapshot.jpg" if kind == "snapshot" else "clip.mp4"
        return f"{self.base_url}/api/events/{quote(event_id, safe='')}/{name}"

    def fetch(self, event_id: str, kind: str) -> Media | None:
        """The event's snapshot or clip; None when Frigate has none (404)."""
        url = self.url(event_id, kind)
        limit = MAX_SNAPSHOT_BYTES if kind == "snapshot" else MAX_CLIP_BYTES
        request = urllib.request.Request(url, headers={"Accept": "*/*"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                content = resp.read(limit + 1)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise FrigateError(f"{url}: HTTP {err.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise FrigateError(f"{url}: {getattr(err, 'reason', err)}") from None
        if len(content) > limit:
            raise FrigateError(f"{url}: larger than {limit} bytes")
        content_type = media_type(kind, content)
        if content_type is None:
            raise FrigateError(f"{url}: not a {'JPEG or PNG image' if kind == 'snapshot' else 'MP4 clip'} "
                               f"(starts with 0x{content[:8].hex()})")
        return Media(kind, content, content_type, url)


def store_media(conn, source: str, event_id: str, device_id: str, label: str | None,
                at: dt.datetime, media: Media) -> str:
    """Store the bytes once per content and link them to the incident; their SHA-256."""
    sha = media.sha256
    conn.execute(
        "INSERT INTO camera_snapshots (sha256, content, content_type, size, device_id, label, "
        "time) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
        (sha, media.content, media.content_type, len(media.content), device_id, label, at),
    )
    conn.execute(
        "INSERT INTO incident_media (source, event_id, sha256, kind, origin) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (source, event_id, sha, media.kind, media.url),
    )
    return sha


@dataclass(frozen=True)
class Pending:
    event_id: str
    device_id: str
    label: str
    ended_at: dt.datetime
    kinds: tuple[str, ...]


RECENT = dt.timedelta(days=2)  # Frigate keeps recordings for days, not forever


def pending(conn, limit: int = 50, *, skip: set[tuple[str, str]] | frozenset = frozenset(),
            since: dt.timedelta = RECENT) -> list[Pending]:
    """Ended Frigate incidents of the last `since` in the police queue whose snapshot or clip
    is not fetched yet, newest first, leaving out the (event id, kind) pairs in `skip` (what
    Frigate said it does not have). Frigate says whether it has them (has_snapshot, has_clip)."""
    rows = conn.execute(
        "SELECT c.event_id, c.device_id, c.label, c.ended_at, "
        "  coalesce((c.data->>'has_snapshot')::boolean, false) AND NOT EXISTS ("
        "    SELECT 1 FROM incident_media m WHERE m.source = c.source "
        "    AND m.event_id = c.event_id AND m.kind = 'snapshot'), "
        "  coalesce((c.data->>'has_clip')::boolean, false) AND NOT EXISTS ("
        "    SELECT 1 FROM incident_media m WHERE m.source = c.source "
        "    AND m.event_id = c.event_id AND m.kind = 'clip') "
        "FROM police_queue q JOIN camera_incidents c ON c.source = q.source "
        "AND c.event_id = q.event_id "
        "WHERE q.source = 'frigate' AND q.first_seen >= now() - %s AND c.ended_at IS NOT NULL "
        "ORDER BY c.ended_at DESC LIMIT %s",
        (since, limit * 4 + len(skip)),
    ).fetchall()
    out = []
    for event_id, device_id, label, ended_at, snap, clip in rows:
        kinds = tuple(k for k, want in (("snapshot", snap), ("clip", clip))
                      if want and (event_id, k) not in skip)
        if kinds:
            out.append(Pending(event_id, device_id, label, ended_at, kinds))
    return out[:limit]


@dataclass
class FetchReport:
    stored: int = 0
    missing: int = 0  # Frigate has none (404): added to `missing` of fetch_pending
    failed: int = 0


def fetch_pending(conn, client: FrigateClient, limit: int = 50,
                  missing: set[tuple[str, str]] | None = None) -> FetchReport:
    """Fetch what `pending` lists; each file stored in its own transaction. A failure is
    logged and left for the next round (Frigate may be restarting); what Frigate does not
    have (404) goes into `missing`, which a caller keeps across rounds so it is not asked
    for again (and does not hold newer incidents back)."""
    report = FetchReport()
    missing = missing if missing is not None else set()
    with conn.transaction():
        todo = pending(conn, limit, skip=missing)
    for item in todo:
        for kind in item.kinds:
            try:
                media = client.fetch(item.event_id, kind)
            except FrigateError as err:
                log.warning("frigate %s of %s not fetched: %s", kind, item.event_id, err)
                report.failed += 1
                continue
            if media is None:
                report.missing += 1
                missing.add((item.event_id, kind))
                continue
            with conn.transaction():
                store_media(conn, "frigate", item.event_id, item.device_id, item.label,
                            item.ended_at, media)
            report.stored += 1
    return report
