"""Retention of every growing table: what is deleted, after which setting, and in what order.

Raw readings: a TimescaleDB retention policy drops old chunks; on plain PostgreSQL
`ioc.db.timescale.enforce_retention` deletes them. Everything else is deleted here, on both
databases, by `ioc maintain` once an hour. Rules that protect records:
- the audit log and the police records are append-only (and the audit log and the export
  records hash-chained): `prune_records()`, a function of the owner, deletes them after the
  periods `ioc db migrate` stored, a chain's prefix only, and records where the chain now
  starts; their triggers never let a row younger than a year go;
- evidence (a camera incident and its snapshot) is never deleted while a police record or an
  evidence export refers to it: an incident goes only after its records have gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ioc.config import DatabaseSettings
from ioc.db import timescale

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    table: str  # what the report calls it
    setting: str  # the DatabaseSettings field, in days
    statements: tuple[str | sql.Composable, ...]  # each takes %(cutoff)s


_POLICE = ("incident_reviews", "incident_notes", "evidence_custody", "evidence_exports")
_REFERENCED = sql.SQL(" AND ").join(
    sql.SQL("NOT EXISTS (SELECT 1 FROM {} p WHERE p.source = c.source "
            "AND p.event_id = c.event_id)").format(sql.Identifier(t))
    for t in _POLICE
)

# The audit log and the police records first (prune_records), then, in order: incidents
# after the police records that held them, deliveries before alert events.
RULES: tuple[Rule, ...] = (
    Rule("reading_rollups (hour)", "rollup_hour_retention_days",
         ("DELETE FROM reading_rollups WHERE width = 'hour' AND bucket < %(cutoff)s",)),
    Rule("reading_rollups (day)", "rollup_day_retention_days",
         ("DELETE FROM reading_rollups WHERE width = 'day' AND bucket < %(cutoff)s",)),
    Rule("camera_incidents", "incident_retention_days", (
        sql.SQL("DELETE FROM camera_incidents c WHERE c.last_update < %(cutoff)s AND {}")
        .format(_REFERENCED),
        # a snapshot goes with the last incident that showed it
        "DELETE FROM camera_snapshots s WHERE s.time < %(cutoff)s AND NOT EXISTS ("
        "SELECT 1 FROM camera_incidents c WHERE c.snapshot_sha256 = s.sha256)",
    )),
    Rule("alert_deliveries", "delivery_retention_days",
         ("DELETE FROM alert_deliveries "
          "WHERE coalesce(delivered_at, failed_at) < %(cutoff)s",)),
    Rule("alerts", "alert_retention_days", (
        "DELETE FROM alert_events e USING alerts a WHERE e.alert_id = a.id "
        "AND a.status IN ('resolved', 'false_alarm') AND a.resolved_at < %(cutoff)s "
        "AND NOT EXISTS (SELECT 1 FROM alerts k WHERE k.parent_id = a.id)",
        "DELETE FROM alerts a WHERE a.status IN ('resolved', 'false_alarm') "
        "AND a.resolved_at < %(cutoff)s "
        "AND NOT EXISTS (SELECT 1 FROM alerts k WHERE k.parent_id = a.id) "
        "AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.alert_id = a.id)",
    )),
    Rule("dead_letters", "dead_letter_retention_days",
         ("DELETE FROM dead_letters WHERE received_at < %(cutoff)s",)),
    Rule("unit_hazard_history", "hazard_history_retention_days",
         ("DELETE FROM unit_hazard_history WHERE at < %(cutoff)s",)),
    Rule("login_attempts", "login_attempt_retention_days",
         ("DELETE FROM login_attempts WHERE at < %(cutoff)s",)),
    Rule("device_status", "device_status_retention_days",
         ("DELETE FROM device_status WHERE time < %(cutoff)s",)),
    Rule("cap_messages", "cap_retention_days",
         ("DELETE FROM cap_messages WHERE sent < %(cutoff)s",)),
    Rule("frigate_reviews", "frigate_review_retention_days",
         ("DELETE FROM frigate_reviews WHERE last_update < %(cutoff)s",)),
)


# Periods `ioc db migrate` stores in retention_periods for prune_records() (migration 0012).
RECORD_PERIODS = (("audit", "audit_retention_days"), ("police", "police_retention_days"))


def settings_table(db: DatabaseSettings) -> list[tuple[str, str, int]]:
    """(table, setting, days) of every rule, raw readings first: for `ioc db status`."""
    return [("readings", "retention_days", db.retention_days),
            ("audit_log", "audit_retention_days", db.audit_retention_days),
            ("police records", "police_retention_days", db.police_retention_days)] + [
        (r.table, r.setting, getattr(db, r.setting)) for r in RULES]


def store_record_periods(conn: psycopg.Connection, db: DatabaseSettings) -> None:
    """As the owner (`ioc db migrate`): the audit and police periods prune_records() uses."""
    for name, setting in RECORD_PERIODS:
        conn.execute(
            "INSERT INTO retention_periods (name, days) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET days = EXCLUDED.days",
            (name, getattr(db, setting)))


def enforce(conn: psycopg.Connection, db: DatabaseSettings, *,
            now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what every rule says is past its retention; returns rows deleted per table.

    Each rule in its own transaction, so one that fails (reported, re-raised at the end)
    does not keep the others from running.
    """
    now = now or dt.datetime.now(dt.UTC)
    deleted: dict[str, int] = {}
    errors: list[str] = []
    try:
        with conn.transaction():
            deleted["readings"] = timescale.enforce_retention(conn, db)
    except psycopg.Error as err:
        errors.append(f"readings: {err}")
    try:
        # append-only and hash-chained: deleted by the owner's function, after the periods
        # the owner stored (the runtime role can neither DELETE these rows nor change those)
        with conn.transaction():
            for table, n in conn.execute("SELECT tbl, deleted FROM prune_records()"):
                deleted[table] = n
    except psycopg.Error as err:
        errors.append(f"audit and police records: {err}")
    for rule in RULES:
        cutoff = now - dt.timedelta(days=getattr(db, rule.setting))
        try:
            with conn.transaction():
                n = 0
                for statement in rule.statements:
                    n += conn.execute(statement, {"cutoff": cutoff}).rowcount
            deleted[rule.table] = n
        except psycopg.Error as err:
            errors.append(f"{rule.table}: {err}")
    for table, n in deleted.items():
        if n:
            log.info("retention: deleted %d row(s) of %s", n, table)
    if errors:
        raise RetentionError("; ".join(errors))
    return deleted


class RetentionError(Exception):
    """One or more tables could not be pruned (the others were)."""
