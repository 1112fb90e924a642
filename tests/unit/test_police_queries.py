"""The police page's pure parts: filters, decisions, rows by role, the plate-path map."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboards import police_incident as one
from dashboards import police_queries as q
from dashboards.map_geometry import BaseGeometry
from evidence.incident import Incident
from evidence.store import split_key
from layers.catalog import demo_layers

T0 = dt.datetime(2025, 6, 1, 1, 0, tzinfo=dt.UTC)


def incident(event_id: str = "e1", *, plate: str | None = "24A-686.68", camera="cam-a",
             lon: float | None = 103.97, lat: float | None = 22.50, minutes: int = 0,
             review: str | None = None, kind: str = "wanted_plate") -> Incident:
    at = T0 + dt.timedelta(minutes=minutes)
    return Incident(
        source="ioc", event_id=event_id, device_id=camera, camera_name=f"Camera {camera}",
        unit_id="lao_cai_city", lon=lon, lat=lat, type=kind, label=kind, phase="end",
        first_seen=at, started_at=at, last_update=at, ended_at=at, confidence=0.9,
        top_confidence=0.95, zones=("lane_in",), plate=plate, plate_confidence=0.9,
        snapshot_sha256=None, snapshot_url=None, false_positive=False, data={},
        review=review,
    )


def test_filter_of_ignores_odd_values():
    flt = q.QueueFilter.of(types="fire", cameras=["cam-a", 5, "", "cam-a"], units=None,
                           period="forever", states=["verified", "bogus"])
    assert flt.types == ("fire",) and flt.cameras == ("cam-a",) and flt.units == ()
    assert flt.period == q.DEFAULT_PERIOD and flt.states == ("verified",)


@pytest.mark.parametrize(
    ("action", "reason", "problem"),
    [("verify", "khói thật, đã báo PCCC", None), ("dismiss", "  ", "reason_required"),
     ("dismiss", None, "reason_required"), ("delete", "x", "unknown_action")],
)
def test_check_review(action, reason, problem):
    assert one.check_review(action, reason) == problem


def test_for_role_masks_plates_for_other_roles():
    inc = incident()
    assert q.for_role(inc, "police").plate == "24A-686.68"
    assert q.for_role(inc, "admin").plate == "24A-686.68"
    assert q.for_role(inc, "operator").plate == "24A-6**.**"
    assert q.for_role(inc, None).plate == "24A-6**.**"
    assert q.for_role(incident(plate=None), "operator").plate is None


def test_queue_rows():
    rows = q.queue_rows([incident(review="verified"), incident("e2", minutes=5)], "vi",
                        "Asia/Ho_Chi_Minh", {"lao_cai_city": "Thành phố Lào Cai"})
    assert rows[0]["id"] == "ioc:e1" and rows[0]["state"] == "verified"
    assert rows[0]["state_text"] == "Đã xác minh" and rows[1]["state_text"] == "Chưa xác minh"
    assert rows[0]["time"] == "08:00:00 01/06" and rows[0]["unit_id"] == "Thành phố Lào Cai"
    assert rows[0]["type_text"] == "Biển số bị truy tìm" and rows[0]["confidence"] == "95 %"


def test_type_text_falls_back_to_the_label():
    assert q.type_text("fight", "en") == "Fight"
    assert q.type_text("kangaroo", "vi") == "kangaroo"


def test_keys_and_urls():
    assert split_key("frigate:1748743215.482917-k3n9vq") == ("frigate", "1748743215.482917-k3n9vq")
    assert split_key("ioc:a:b") == ("ioc", "a:b")
    for bad in (None, "", "nokey", "other:x", "ioc:", "ioc:" + "x" * 129, 5):
        assert split_key(bad) is None
    assert one.snapshot_src("ab" * 32, "ioc:a/b c") == (
        f"/evidence/snapshot/{'ab' * 32}?incident=ioc%3Aa%2Fb%20c")
    assert one.bundle_action("frigate:1.2-x y") == "/evidence/bundle/frigate/1.2-x%20y"


def _geo() -> BaseGeometry:
    layers = demo_layers()
    return BaseGeometry(layers["units"], layers["province"], layers["rivers"],
                        layers["towns"])


def _detail(path: list[Incident], current: Incident) -> one.IncidentDetail:
    return one.IncidentDetail(incident=current, snapshots=(), reviews=(), notes=(), custody=(),
                            same_camera=(), plate_path=tuple(path), sensitive=True)


def test_path_figure_draws_the_plate_path_offline():
    path = [incident(f"e{i}", camera=f"cam-{i}", lon=103.96 - i * 0.03, lat=22.50 - i * 0.04,
                     minutes=10 * i) for i in range(4)]
    cameras = [(f"cam-{i}", f"Camera {i}", 103.96 - i * 0.03, 22.50 - i * 0.04)
               for i in range(6)]
    fig = one.path_figure(_detail(path, path[1]), _geo(), cameras, "vi", "Asia/Ho_Chi_Minh")
    traces = {tr.name: tr for tr in fig.data}
    assert set(traces) == {"units", "cameras", "path", "sightings", "current"}
    assert traces["path"].mode == "lines" and list(traces["path"].lon) == [p.lon for p in path]
    assert list(traces["sightings"].customdata) == ["ioc:e0", "ioc:e2", "ioc:e3"]
    assert list(traces["current"].lon) == [path[1].lon]
    for tr in fig.data:  # circles only, never text (text needs glyphs from a font server)
        assert "text" not in (getattr(tr, "mode", None) or "")
        if tr.type == "scattermap" and tr.marker is not None:
            assert tr.marker.symbol in (None, "circle")
    text = json.dumps(fig.to_plotly_json()["layout"]["map"]["style"])
    assert "http" not in text  # no tiles, no glyphs, no sprites: works with no internet
    assert fig.layout.map.zoom > 9  # zoomed on the path, not the whole province


def test_path_figure_without_incident_or_plate():
    fig = one.path_figure(None, _geo(), [], "en", "Asia/Ho_Chi_Minh")
    assert [tr.name for tr in fig.data] == ["units", "cameras"]
    alone = incident(plate=None)
    fig = one.path_figure(_detail([], alone), _geo(), [], "en", "Asia/Ho_Chi_Minh")
    assert "path" not in {tr.name for tr in fig.data}
    assert list(next(tr for tr in fig.data if tr.name == "current").lat) == [alone.lat]


def test_related_lists():
    path = [incident(f"e{i}", camera=f"cam-{i}", minutes=10 * i) for i in range(3)]
    rel = one.related_lists(_detail(path, path[2]), "vi", "Asia/Ho_Chi_Minh")
    assert rel.plate_title == "Biển số 24A-686.68: 3 lần ghi nhận trên 3 camera"
    assert [o["value"] for o in rel.plate_options] == ["ioc:e0", "ioc:e1", "ioc:e2"]
    assert rel.plate_value == "ioc:e2" and rel.plate_options[2]["label"].endswith("◀")
    assert rel.plate_options[0]["label"] == "08:00:00 01/06 · Camera cam-0 · Biển số bị truy tìm"
    assert rel.same_title.endswith(": không có") and rel.same_options == []
    alone = one.related_lists(_detail([], incident(plate=None)), "en", "UTC")
    assert alone.plate_title == "Plate path: No plate in this incident." and not alone.plate_value
    assert one.related_lists(None, "vi", "UTC") == one.Related("", [], None, "", [])


def test_plate_search_matches_any_spelling():
    assert q.QueueFilter.of(plate="24a 686.68").plate == "24A68668"
    assert q.QueueFilter.of(plate="--").plate is None
    assert q.QueueFilter.of(plate=12345).plate is None


def test_queue_rows_mark_priority():
    hit = q.QueueItem(incident("h"), 100, "watchlist", "Truy nã")
    fire = q.QueueItem(incident("f", kind="fire", plate=None), 90, "fire", None)
    fight = q.QueueItem(incident("g", kind="fight", plate=None), 70, "fight", None)
    violation = q.QueueItem(incident("v", kind="traffic_violation"), 30, "traffic_violation",
                            None)
    rows = q.queue_rows([hit, fire, fight, violation, incident("o", kind="car")], "vi",
                        "Asia/Ho_Chi_Minh", {})
    assert [r["priority"] for r in rows] == ["hit", "urgent", "high", "normal", "none"]
    assert [r["priority_text"] for r in rows] == ["TRUY TÌM", "90", "70", "30", ""]
    assert rows[0]["plate"] == "24A-686.68"
