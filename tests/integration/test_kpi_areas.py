"""The KPI page for one unit and for a group of units, against a month of the demo province
(real PostgreSQL): the tiles, the table, the trends and the CSV change with the area, a group's
figures match a hand computation from its units' stored figures, the shared link and the PDF
honour the area; and the targets set from the page (leadership, admin only, audited)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from dashboards.app import create_app
from dashboards.kpi_export import export_csv
from dashboards.kpi_queries import load_page, load_trends, unit_groups
from dashboards.kpi_view import tiles, unit_table
from ioc.db import connect
from ioc.security import audit
from kpi.areas import PROVINCE_AREA, parse_area
from kpi.catalogue import load_catalogue
from kpi.targets import stored_targets
from tests.fixtures.fix_web import find_callback, login_client, post_callback
from tests.integration.test_kpi_page_data import fill_province

pytestmark = pytest.mark.integration

UNIT = "02647"  # Phường Lào Cai: cameras, air-quality stations, visitor counters


def _midday() -> dt.datetime:
    """Today's local noon: the day has camera incidents by then (an incident every ~3 h per
    camera). Filled at the real time, the first hours after local midnight had none in the
    unit nor the province, and the tiles compared '0' with '0' (CI failed at 00:0x ICT)."""
    zone = load_catalogue().zone
    local = dt.datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0)
    return local.astimezone(dt.UTC)


def _tiles(catalogue, data, today):
    return {x.kpi_id: x for group in tiles(catalogue, data, today, "vi").values() for x in group}


def test_one_unit_and_a_group_change_tiles_table_and_trends(db_conn):
    now = fill_province(db_conn, _midday())
    catalogue = load_catalogue()
    today = now.astimezone(catalogue.zone).date()
    units = [f["properties"]["id"] for f in load_page(db_conn, catalogue).units["features"]]
    province = load_page(db_conn, catalogue)
    unit = load_page(db_conn, catalogue, area=parse_area(UNIT, units))
    p_tiles, u_tiles = _tiles(catalogue, province, today), _tiles(catalogue, unit, today)
    # the unit's own figures, as stored for it
    (stored,) = db_conn.execute(
        "SELECT value FROM kpi_values WHERE kpi_id = 'incidents_today' AND unit_id = %s "
        "AND period = 'day' AND period_start = %s AND breakdown = ''", (UNIT, today)).fetchone()
    assert u_tiles["incidents_today"].value == f"{stored:,.0f}".replace(",", ".")
    assert u_tiles["incidents_today"].value != p_tiles["incidents_today"].value
    # province-wide figures say so instead of showing the province's number as the unit's
    assert u_tiles["egov_services_full_pct"].value == "–"
    assert u_tiles["egov_services_full_pct"].status_text == "Chỉ có số liệu toàn tỉnh"
    assert p_tiles["egov_services_full_pct"].value == "37,0"
    # the table: the unit's row only
    assert [r[0] for r in unit_table(catalogue, unit, "vi").rows] == [UNIT]
    assert len(unit_table(catalogue, province, "vi").rows) > 10
    # trends: the unit's series
    kpis = [catalogue.get("incidents_today"), catalogue.get("dti_score")]
    p_points = load_trends(db_conn, kpis, 30, today)
    u_points = load_trends(db_conn, kpis, 30, today, area=unit.area)
    assert {v.unit_id for v in u_points["incidents_today"]} == {UNIT}
    assert [v.value for v in u_points["incidents_today"]] != [
        v.value for v in p_points["incidents_today"]]
    assert u_points["dti_score"] == []


def test_a_group_is_its_units_summed_not_averaged(db_conn):
    now = fill_province(db_conn, _midday())
    catalogue = load_catalogue()
    today = now.astimezone(catalogue.zone).date()
    group = next(g for g in unit_groups() if g.id == "former-10")  # the former Lào Cai
    area = parse_area("g:former-10", group.unit_ids, unit_groups())
    data = load_page(db_conn, catalogue, area=area)
    rows = db_conn.execute(
        "SELECT kpi_id, value, numerator, denominator FROM kpi_values WHERE period = 'day' "
        "AND period_start = %s AND breakdown = '' AND unit_id = ANY(%s)",
        (today, list(group.unit_ids))).fetchall()
    incidents = sum(v for k, v, _n, _d in rows if k == "incidents_today")
    assert incidents > 0  # a sum of zeros would prove nothing
    online = [(n, d) for k, _v, n, d in rows if k == "devices_online_pct"]
    assert data.latest["incidents_today"].current.value == pytest.approx(incidents)
    assert data.latest["devices_online_pct"].current.value == pytest.approx(
        100 * sum(n for n, _ in online) / sum(d for _, d in online))
    aqi = [(n, d) for k, _v, n, d in rows if k == "aqi_today"]
    assert data.latest["aqi_today"].current.value == pytest.approx(
        sum(n for n, _ in aqi) / sum(d for _, d in aqi))
    # a median cannot be made of the units' medians: no figure, and the reason
    assert data.missing["ack_median_min"] == "median"
    assert "ack_median_min" not in data.latest
    table = unit_table(catalogue, data, "vi")
    assert {r[0] for r in table.rows[:-1]} <= set(group.unit_ids)
    assert table.rows[-1][1] == "Cả khu vực (48 xã, phường)"
    # the 30-day trend of the group: one combined point per day
    points = load_trends(db_conn, [catalogue.get("incidents_today")], 30, today, area=area)
    assert len(points["incidents_today"]) == 30
    # the CSV of the group: its units' rows only
    text = export_csv(db_conn, catalogue, 30, today, "vi", data.units, area=area)
    exported = {r["unit_id"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert exported and exported <= set(group.unit_ids)
    everything = export_csv(db_conn, catalogue, 30, today, "vi", data.units, area=PROVINCE_AREA)
    assert "" in {r["unit_id"] for r in csv.DictReader(io.StringIO(everything.lstrip("\ufeff")))}


# -- over HTTP: the page's callback, the shared link, the PDF, the targets -------------------------
@pytest.fixture
def app(settings):
    return create_app(settings)


def _client(app, user):
    client = app.server.test_client()
    client.get("/login")
    resp = login_client(client, user.username, user.password)
    assert resp.status_code == 303
    return client


def test_choosing_a_unit_in_the_page_changes_its_tiles(app, db_conn, web_users):
    fill_province(db_conn)
    client = _client(app, web_users["leadership"])
    key, spec = find_callback(app, "..kpi-tiles")
    province = post_callback(client, key, spec, {("kpi-area", "value"): [],
                                                 ("kpi-map-kpi", "value"): "aqi_today",
                                                 ("kpi-lang-store", "data"): "vi"})
    unit = post_callback(client, key, spec, {("kpi-area", "value"): [UNIT],
                                             ("kpi-map-kpi", "value"): "aqi_today",
                                             ("kpi-lang-store", "data"): "vi"})
    assert province.status_code == 200 and unit.status_code == 200
    out = unit.json["response"]
    assert out["kpi-area-store"]["data"] == UNIT  # the link to share
    assert f"area={UNIT}" in out["kpi-pdf-link"]["href"]
    assert "Phường Lào Cai" in str(out["kpi-area-name"]["children"])
    assert "Chỉ có số liệu toàn tỉnh" in str(out["kpi-tiles"]["children"])
    assert "Chỉ có số liệu toàn tỉnh" not in str(province.json["response"]["kpi-tiles"])
    assert province.json["response"]["kpi-area-store"]["data"] == ""


def test_the_pdf_of_an_area(app, db_conn, web_users, tmp_path):
    import shutil
    import subprocess

    from dashboards.kpi_report_pdf import ReportFontError, find_fonts

    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is not installed")
    try:
        find_fonts()
    except ReportFontError as err:
        pytest.skip(str(err))
    fill_province(db_conn)
    client = _client(app, web_users["leadership"])
    assert client.get("/kpi/report.pdf?area=nowhere").status_code == 400
    resp = client.get(f"/kpi/report.pdf?area={UNIT}")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-l", "1", str(tmp_path / "r.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    text = " ".join(text.split())
    assert "Khu vực: Phường Lào Cai" in text and "Chỉ có số liệu toàn tỉnh" in text


def _save_values(value: float, document: str = "Nghị quyết 10-NQ/TU") -> dict:
    return {("kpi-act-target-save", "n_clicks"): 1,
            ("kpi-target-kpi", "value"): "egov_dossiers_online_pct",
            ("kpi-target-value", "value"): value,
            ("kpi-target-start", "date"): "2026-01-01",
            ("kpi-target-due", "date"): "2030-12-31",
            ("kpi-target-basis", "value"): "plan",
            ("kpi-target-document", "value"): document,
            ("kpi-tick", "n_intervals"): 0,
            ("kpi-lang-store", "data"): "vi"}


def test_targets_are_set_from_the_page_by_leadership_and_admin_only(app, settings, web_users):
    key, spec = find_callback(app, "..kpi-target-result")
    for role in ("operator", "police"):
        resp = post_callback(_client(app, web_users[role]), key, spec, _save_values(55))
        assert resp.status_code == 403, role
    with connect(settings.database) as conn:
        assert "egov_dossiers_online_pct" not in stored_targets(conn)
    leader = _client(app, web_users["leadership"])
    missing = post_callback(leader, key, spec, _save_values(90, document=" "))
    assert "Cần ghi văn bản giao chỉ tiêu" in str(missing.json["response"])
    resp = post_callback(leader, key, spec, _save_values(90))
    assert resp.status_code == 200
    assert "Đã lưu mục tiêu 2026–2030" in str(resp.json["response"]["kpi-target-result"])
    admin = _client(app, web_users["admin"])
    resp = post_callback(admin, key, spec, _save_values(92))
    assert resp.status_code == 200
    with connect(settings.database) as conn:
        (target,) = stored_targets(conn)["egov_dossiers_online_pct"]
        assert (target.value, target.document) == (92, "Nghị quyết 10-NQ/TU")
        entries = audit.search(conn, action="kpi.target.set")
        assert {e.actor for e in entries} == {web_users["leadership"].username,
                                             web_users["admin"].username}
        refused = audit.search(conn, action="access.denied",
                               actor=web_users["operator"].username)
        assert refused


def test_the_target_form_is_shown_only_to_who_may_use_it(app, db_conn, web_users):
    key, spec = find_callback(app, "_pages_content")
    for role, shown in (("leadership", True), ("admin", True), ("operator", False)):
        resp = post_callback(_client(app, web_users[role]), key, spec,
                             {("_pages_location", "pathname"): "/kpi",
                              ("_pages_location", "search"): ""})
        assert resp.status_code == 200
        assert ("kpi-act-target-save" in resp.text) == shown, role


def test_the_printable_report_and_a_shared_link_of_an_area(app, db_conn, web_users):
    fill_province(db_conn)
    key, spec = find_callback(app, "_pages_content")
    client = _client(app, web_users["operator"])

    def render(path: str, search: str) -> str:
        resp = post_callback(client, key, spec, {("_pages_location", "pathname"): path,
                                                 ("_pages_location", "search"): search})
        assert resp.status_code == 200
        return str(resp.json["response"])

    report = render("/kpi/report", f"?area={UNIT}")
    assert "Khu vực: Phường Lào Cai" in report and "Chỉ có số liệu toàn tỉnh" in report
    page = render("/kpi", "?area=g:former-10")
    assert "Cả khu vực (48 xã, phường)" in page and "area=g:former-10" in page
    wrong = render("/kpi", "?area=ha_noi")
    assert "unknown unit" in wrong and "Toàn tỉnh" in wrong
