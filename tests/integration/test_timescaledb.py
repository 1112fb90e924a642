"""The TimescaleDB path: hypertable, chunk interval, compression, policies that follow the
settings, writes and redeliveries into compressed chunks, rollups over compressed data, jobs.

Runs when IOC_TEST_DATABASE_URL points at a server with the timescaledb extension
(`pytest -m timescaledb`); skipped, saying why, otherwise (the embedded PostgreSQL has none).
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from ingest.batch import WritePlan
from ingest.records import Reading
from ingest.store import prepare, write_plan
from ioc.config import DatabaseSettings
from ioc.db import connect, timescale
from ioc.db.migrate import migrate, owner_settings
from ioc.db.rollups import refresh_dirty
from ioc.maintain import job_states, watch_timescale

pytestmark = [pytest.mark.integration, pytest.mark.timescaledb]


@pytest.fixture
def ts_settings(request) -> DatabaseSettings:
    if not os.environ.get("IOC_TEST_DATABASE_URL"):
        pytest.skip("IOC_TEST_DATABASE_URL is not set: the embedded PostgreSQL has no "
                    "TimescaleDB (point it at a TimescaleDB server to run these)")
    db_settings = request.getfixturevalue("db_settings")
    with connect(db_settings) as conn:
        if timescale.installed_version(conn) is None:
            pytest.skip("the server at IOC_TEST_DATABASE_URL has no timescaledb extension")
    return db_settings


def _policies(conn, schema: str) -> dict[str, str]:
    return {proc: interval for proc, interval in conn.execute(
        "SELECT proc_name, coalesce(config->>'compress_after', config->>'drop_after') "
        "FROM timescaledb_information.jobs WHERE hypertable_schema = %s "
        "AND hypertable_name = 'readings'", (schema,))}


def test_readings_is_a_compressed_hypertable_with_the_configured_policies(ts_settings):
    with connect(ts_settings) as conn:
        (interval,) = conn.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_schema = %s AND hypertable_name = 'readings'",
            (ts_settings.schema_name,)).fetchone()
        assert interval == dt.timedelta(days=1)
        settings = dict(conn.execute(
            "SELECT attname, coalesce(segmentby_column_index, -orderby_column_index) "
            "FROM timescaledb_information.compression_settings "
            "WHERE hypertable_schema = %s AND hypertable_name = 'readings'",
            (ts_settings.schema_name,)).fetchall())
        assert settings["device_id"] > 0 and settings["metric"] > 0  # segment by
        assert settings["time"] < 0  # order by
        assert _policies(conn, ts_settings.schema_name) == {
            "policy_compression": "7 days", "policy_retention": "400 days"}


def test_migrate_changes_the_policies_when_the_settings_change(ts_settings):
    changed = ts_settings.model_copy(update={"retention_days": 30, "compress_after_days": 3})
    report = migrate(changed)
    assert len(report.policy_changes) == 2
    assert any("retention" in c and "30 days" in c for c in report.policy_changes)
    with connect(changed) as conn:
        policies = _policies(conn, changed.schema_name)
    assert dt.timedelta(days=3) == _interval(policies["policy_compression"])
    assert dt.timedelta(days=30) == _interval(policies["policy_retention"])
    assert migrate(changed).policy_changes == ()  # nothing to change the second time


def _interval(text: str) -> dt.timedelta:
    number, unit = text.split()
    assert unit.startswith("day")
    return dt.timedelta(days=int(number))


def test_writes_and_redeliveries_into_compressed_chunks_reach_the_rollups(ts_settings):
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).replace(minute=0, second=0,
                                                                   microsecond=0)
    rows = [Reading("aq-1", "pm25", old + dt.timedelta(minutes=10 * i), float(i))
            for i in range(6)]
    with connect(ts_settings) as conn:
        prepare(conn)
        with conn.transaction():
            assert write_plan(conn, WritePlan(entries=[], readings=rows[:3])).readings == 3
        refresh_dirty(conn)
        assert timescale.storage_kind(conn, ts_settings) == "hypertable"
        conn.commit()
        with connect(owner_settings(ts_settings), autocommit=True) as owner:
            timescale.compress_old_chunks(owner, ts_settings)  # the policy, as the owner
        assert timescale.storage_kind(conn, ts_settings) == "hypertable+compressed"
        (compressed,) = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = %s "
            "AND hypertable_name = 'readings' AND is_compressed", (ts_settings.schema_name,)
        ).fetchone()
        assert compressed >= 1
        # late readings into the compressed chunk, and a redelivery that adds nothing
        with conn.transaction():
            assert write_plan(conn, WritePlan(entries=[], readings=rows)).readings == 3
        with conn.transaction():
            assert write_plan(conn, WritePlan(entries=[], readings=rows)).readings == 0
        # a correction inside the compressed chunk marks its hour too
        conn.execute("UPDATE readings SET value = 100 WHERE time = %s", (old,))
        conn.commit()
        assert refresh_dirty(conn).keys >= 1
        conn.commit()
        hour = conn.execute(
            "SELECT n, sum, max, last FROM reading_rollups WHERE width = 'hour' AND bucket = %s",
            (old,)).fetchone()
        assert hour == (6, 100.0 + sum(range(1, 6)), 100.0, 5.0)
        day = conn.execute("SELECT n FROM reading_rollups WHERE width = 'day'").fetchone()
        assert day == (6,)


def test_the_policy_jobs_are_watched(ts_settings):
    # the runtime role (what `ioc maintain` connects as) sees the jobs; the owner starts them
    with connect(ts_settings, autocommit=True) as conn, \
            connect(owner_settings(ts_settings), autocommit=True) as owner:
        jobs = timescale.job_runs(conn)
        assert {j.proc_name for j in jobs} == {"policy_compression", "policy_retention"}
        # run_job() in this session records no stats: let the scheduler run them now
        for job in jobs:
            owner.execute("SELECT alter_job(%s, next_start => now())", (job.job_id,))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                j.last_status for j in timescale.job_runs(conn)):
            time.sleep(0.5)
        assert watch_timescale(conn) == len(jobs)
        assert watch_timescale(conn) == 0  # a run is copied once
        states = {s.job: s for s in job_states(conn)}
        runs = timescale.job_runs(conn)
    # each run's result as TimescaleDB reports it (a build whose jobs all fail, as one did,
    # shows up here, and a second failure in a row opens an alert)
    for job in runs:
        state = states[f"timescaledb:{job.proc_name}:{job.job_id}"]
        assert state.last_start == job.last_start
        assert state.last_ok == (job.last_status != "Failed")
        assert state.next_run == job.next_start
