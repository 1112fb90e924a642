"""The registry page over real HTTP: every viewer sees it, only admins act (server-side),
and an admin's edit of alarm levels is versioned and audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards import registry_queries as rq
from dashboards.app import create_app
from ioc.config.models import DevicesSettings
from ioc.devices.formats import parse_registry
from ioc.devices.store import get_device, import_entries, level_history
from ioc.security import audit
from tests.fixtures.fix_web import find_callback, login_client, post_callback

pytestmark = pytest.mark.integration

STATIONS = Path(__file__).resolve().parents[2] / "ioc" / "devices" / "data" / "river_stations.yaml"


@pytest.fixture
def stations(db_conn):
    entries = [e for _, e in parse_registry(STATIONS.read_bytes(), "yaml").entries]
    import_entries(db_conn, entries, actor="seed", source="test")
    return entries


def test_only_admins_may_act_and_viewers_see_the_page(settings, web_users, stations):
    app = create_app(settings)
    key, spec = find_callback(app, "..devices-reg-message")
    save = {("devices-reg-selected", "data"): "wl-hong-lao-cai",
            ("devices-form-name", "value"): "Đổi tên", ("devices-act-save", "n_clicks"): 1}
    list_key, list_spec = find_callback(app, "..devices-reg-list")
    for role, user in web_users.items():
        client = app.server.test_client()
        client.get("/login")
        assert login_client(client, user.username, user.password).status_code == 303
        listing = post_callback(client, list_key, list_spec)
        assert listing.status_code == (200 if role in ("operator", "leadership", "admin")
                                       else 403), role
        if role == "admin":
            assert "wl-thao-yen-bai" in listing.get_data(as_text=True)
        resp = post_callback(client, key, spec, save)
        assert (resp.status_code == 200) == (role == "admin"), (role, resp.status_code)


def test_admin_changes_levels_with_a_reason(db_conn, stations):
    off = DevicesSettings()
    form = {"name": "Trạm thủy văn Lào Cai (sông Hồng)", "unit": "02647", "lon": 103.9755,
            "lat": 22.4950, "interval": 300, "level_1": 80.2, "level_2": 82, "level_3": 83.5}
    out = rq.apply_action(db_conn, "save", "wl-hong-lao-cai", form, actor="admin1",
                          devices_settings=off)
    assert out == rq.Outcome(False, "reason_levels")
    out = rq.apply_action(db_conn, "save", "wl-hong-lao-cai", {**form, "reason": "QĐ mới"},
                          actor="admin1", devices_settings=off)
    assert out.ok and out.key == "saved", out
    history = level_history(db_conn, "wl-hong-lao-cai")
    assert [(v.version, v.levels.I, v.changed_by, v.reason) for v in history][0] == \
        (2, 80.2, "admin1", "QĐ mới")
    bad = rq.apply_action(db_conn, "save", "wl-hong-lao-cai",
                          {**form, "level_1": 90, "reason": "x"}, actor="admin1",
                          devices_settings=off)
    assert not bad.ok and "must rise" in bad.detail
    assert get_device(db_conn, "wl-hong-lao-cai").metadata["alarm_levels"]["I"] == 80.2
    assert rq.apply_action(db_conn, "retire", "wl-hong-lao-cai", {}, actor="admin1",
                           devices_settings=off) == rq.Outcome(False, "reason_retire")
    out = rq.apply_action(db_conn, "retire", "wl-hong-lao-cai", {"reason": "di dời"},
                          actor="admin1", devices_settings=off)
    assert out == rq.Outcome(True, "retired")
    no_file = rq.apply_action(db_conn, "create", "wl-thao-yen-bai", {}, actor="admin1",
                              devices_settings=off)
    assert not no_file.ok and "IOC_DEVICES_MQTT_PASSWORD_FILE" in no_file.detail
    actions = [e.action for e in audit.search(db_conn, actor="admin1")]
    assert actions == ["device.retire", "device.edit"]
