"""Pure parts of `ioc maintain`: which KPI days a refresh covers, when an alert opens, and the
status page's jobs table."""

from __future__ import annotations

import datetime as dt

from dashboards.maintenance_jobs import render_jobs
from ioc.db.rollups import DirtyRefresh
from ioc.maintain import JobState, alert_title, kpi_days, should_alert

NOW = dt.datetime(2026, 11, 18, 8, 30, tzinfo=dt.UTC)  # 15:30 in Hà Nội time


def test_kpi_days_cover_every_local_day_a_refreshed_hour_fell_in():
    assert kpi_days(DirtyRefresh(), NOW) == 2  # nothing new: today and yesterday
    three_days = DirtyRefresh(keys=72, first_hour=NOW - dt.timedelta(days=3))
    assert kpi_days(three_days, NOW) == 4
    # 18:00 UTC is already the next local day
    assert kpi_days(DirtyRefresh(keys=1, first_hour=dt.datetime(2026, 11, 15, 18,
                                                                 tzinfo=dt.UTC)), NOW) == 3
    assert kpi_days(DirtyRefresh(keys=1, first_hour=NOW - dt.timedelta(days=4000)), NOW) == 400


def test_an_alert_opens_at_the_second_failure_in_a_row():
    assert [should_alert(n) for n in range(4)] == [False, False, True, True]


def test_the_failed_job_alert_title_is_a_built_in_title_shown_in_the_readers_language():
    from dataclasses import replace

    from alerts.queries import title_in
    from tests.unit.test_dash_wall_and_health import _alert

    title, i18n = alert_title("retention")
    assert title == "Tác vụ bảo trì CSDL lỗi: retention"  # the stored title (API, CSV)
    assert i18n == {"template_id": "maintenance_job", "params": {"job": "retention"}}
    alert = replace(_alert(1, "moderate"), rule_id="maintenance_job_failed", kind="maintenance",
                    title=title, details={"job": "retention", "title_i18n": i18n})
    assert title_in(alert, "en") == "Database maintenance job failed: retention"
    assert title_in(alert, "vi") == title
    assert len(alert_title("x" * 300)[0]) == 200  # the stored title stays within its column


def _state(job, ok, failures=0):
    return JobState(job, NOW, NOW, ok, None if ok else "relation does not exist", 1, 5.0,
                    failures, NOW + dt.timedelta(minutes=1))


def test_the_status_page_lists_each_job_with_its_result():
    title, table = render_jobs([_state("retention", False, 2), _state("rollups", True)], "vi",
                               "Asia/Ho_Chi_Minh")
    assert title.children == "Tác vụ bảo trì cơ sở dữ liệu"
    body = table.children[1].children
    assert [row.children[0].children for row in body] == ["retention", "rollups"]
    assert body[0].className == "tone-alert" and body[0].children[2].children == "Lỗi"
    assert body[0].children[1].children == "15:30:00 18/11"  # local time
    assert body[1].children[2].children == "Thành công"
    assert "ioc maintain" in render_jobs([], "en", "UTC")[1].children
    assert render_jobs(None, "en", "UTC") == []
