"""The status page and the metrics name an ingest session that queues without consuming."""

from __future__ import annotations

import time

import pytest

from dashboards.app import create_app
from dashboards.context import context
from dashboards.ingest_status import render_sessions
from dashboards.queries import ingest_sessions
from ingest.metrics import IngestMetrics
from ioc.ingest_sessions import Heartbeat, SessionBoard

pytestmark = pytest.mark.integration


def test_a_session_that_queues_without_consuming_is_named(settings, db_conn, redis_client):
    db_conn.execute("INSERT INTO ingest_membership (epoch, members, change) "
                    "VALUES (2, ARRAY['wa', 'wb'], 'join wb')")
    db_conn.commit()
    board = SessionBoard(redis_client, settings.redis.key_prefix)
    now = time.time()
    # wb stopped 5 minutes ago; wa has received 1,200 messages since (its samples say so).
    board.beat(Heartbeat("wb", now - 300, "rb", 40, 3, 0.0, 2, True, "stopped"))
    redis_client.lpush(f"{settings.redis.key_prefix}ingest:samples:wa", f"{now - 310:.3f} ra 800")
    board.beat(Heartbeat("wa", now, "ra", 2000, 0, 40.0, 2, True))

    create_app(settings)
    rows = {r.name: r for r in ingest_sessions(context().pool, context().live)}
    assert rows["wa"].online and rows["wa"].consuming
    assert not rows["wb"].consuming and rows["wb"].queued == 1200 + 3

    page = str(render_sessions(list(rows.values()), "en", "Asia/Ho_Chi_Minh"))
    assert "Ingest session wb is queueing 1,203 messages that nobody consumes" in page
    assert "ioc ingest --retire wb" in page and "1/2" in page
    vi = str(render_sessions(list(rows.values()), "vi", "Asia/Ho_Chi_Minh"))
    assert "Phiên ingest wb đang xếp hàng 1,203 tin nhắn" in vi

    metrics = IngestMetrics()
    metrics.show_sessions(list(rows.values()))
    assert metrics.session_consuming.labels("wb")._value.get() == 0
    assert metrics.session_queued.labels("wb")._value.get() == 1203
    assert metrics.session_online.labels("wa")._value.get() == 1


def test_ioc_ingest_sessions_lists_what_each_session_queues(settings, db_conn, redis_client,
                                                           capsys):
    from ingest.run import list_sessions

    db_conn.execute("INSERT INTO ingest_membership (epoch, members, change) "
                    "VALUES (3, ARRAY['wa', 'wb'], 'join wb')")
    db_conn.commit()
    board = SessionBoard(redis_client, settings.redis.key_prefix)
    now = time.time()
    board.beat(Heartbeat("wb", now - 60, "rb", 10, 0, 0.0, 3, True, "stopped"))
    redis_client.lpush(f"{settings.redis.key_prefix}ingest:samples:wa", f"{now - 70:.3f} ra 100")
    board.beat(Heartbeat("wa", now, "ra", 600, 2, 25.0, 3, True))
    assert list_sessions(settings) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "members (epoch 3): wa, wb"
    wa = next(line for line in out if line.startswith("wa "))
    wb = next(line for line in out if line.startswith("wb "))
    assert "online" in wa and wa.split()[-2] == "2"
    assert "QUEUEING" in wb and wb.split()[-2] == "500"
