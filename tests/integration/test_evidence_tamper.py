"""Tampering with the records behind the evidence, against the real PostgreSQL: a forged
export row, audit rows deleted, altered or slipped in by the database owner (an insider with
more rights than the application), and the chain staying whole under concurrent writers."""

from __future__ import annotations

import json
import threading
import uuid
from types import SimpleNamespace

import psycopg
import pytest

from evidence.cli import audit_verify_command, verify_command
from evidence.export import export_incident
from evidence.signing import generate_key_file
from ioc.config import Settings
from ioc.db import connect
from ioc.security import audit
from ioc.security.hash_chain import GENESIS, verify_chain
from tests.integration.test_police_ingest import seed_incident_scenario
from tests.unit.test_evidence_bundle import FORGER, make_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
def world(db_settings, db_conn, tmp_path):
    """An exported, signed bundle, a few audit entries, and the deployment's settings."""
    seed_incident_scenario(db_conn)
    key_file = tmp_path / "evidence-key.pem"
    key = generate_key_file(key_file)
    with db_conn.transaction():
        for i in range(5):
            audit.record(db_conn, f"user-{i}", "evidence.view", f"snapshot:{i}", {"i": i})
        bundle = export_incident(db_conn, "ioc", "cam-mk-coc-leu-0007", actor="t-police",
                                 ip="10.0.0.5", signing_key=key)
    settings = Settings(env="test", state_dir=tmp_path / "state", database=db_settings,
                        evidence={"signing_key_file": key_file})
    return settings, bundle, key


def owner_does(db_conn, *statements) -> None:
    """What an insider with the owner's rights can do: switch the triggers off and write."""
    with db_conn.transaction():
        db_conn.execute("SET LOCAL session_replication_role = replica")
        for stmt, params in statements:
            db_conn.execute(stmt, params)


def audit_ids(db_conn) -> list[int]:
    with db_conn.transaction():
        return [r[0] for r in db_conn.execute("SELECT id FROM audit_log ORDER BY chain_seq")]


def run_audit_verify(settings, capsys, as_json=False) -> tuple[int, str]:
    code = audit_verify_command(settings, SimpleNamespace(public_key=None, json=as_json))
    return code, capsys.readouterr().out


def test_an_untouched_installation_verifies(world, db_conn, capsys):
    settings, _bundle, _key = world
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
        rows = db_conn.execute(
            "SELECT chain_seq, prev_hash, row_hash FROM audit_log ORDER BY chain_seq").fetchall()
    assert chain.ok and chain.rows == len(rows) >= 6
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][1] == GENESIS and all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    code, out = run_audit_verify(settings, capsys)
    assert code == 0 and "RESULT: OK" in out
    assert "audit_log: chain intact" in out and "evidence_exports: chain intact, 1 rows" in out


def test_chain_columns_given_by_the_writer_are_ignored(world, db_conn, capsys):
    """The application role cannot place a row where it likes: the trigger decides."""
    settings, _bundle, _key = world
    with db_conn.transaction():
        db_conn.execute(
            "INSERT INTO audit_log (actor, action, chain_seq, prev_hash, row_hash) "
            "VALUES ('x', 'evidence.view', 1, %s, %s)", (GENESIS, "f" * 64))
    assert run_audit_verify(settings, capsys)[0] == 0


def test_forged_export_row_is_detected(world, db_conn, tmp_path, capsys):
    """One INSERT into evidence_exports for a forged bundle (label changed, re-signed by the
    forger's key): the record has no signature of the deployment's key."""
    settings, _bundle, _key = world
    forged = make_bundle(key=FORGER)
    with db_conn.transaction():
        (row_id,) = db_conn.execute(
            "INSERT INTO evidence_exports (bundle_id, source, event_id, manifest_sha256, "
            "bundle_sha256, files, size, signed, actor, ip) VALUES "
            "(%s, 'ioc', 'cam-mk-coc-leu-0007', %s, %s, 3, %s, true, 't-police', '10.0.0.5') "
            "RETURNING id",
            (str(uuid.uuid4()), forged.manifest_sha256, forged.bundle_sha256,
             len(forged.content))).fetchone()
    path = tmp_path / "forged.zip"
    path.write_bytes(forged.content)
    for allow in (False, True):
        args = SimpleNamespace(bundle=path, public_key=None, allow_unsigned=allow,
                               check_db=True, json=True)
        assert verify_command(settings, args) == 1
        doc = json.loads(capsys.readouterr().out)
        assert doc["origin_proven"] is False and doc["recorded_export"] is None
        assert any(p.startswith(f"evidence_exports row id {row_id} ") and
                   "not signed by the deployment's key" in p for p in doc["problems"])
    code, out = run_audit_verify(settings, capsys)
    assert code == 1 and f"evidence_exports row id {row_id} " in out
    # a signature copied from a genuine row does not fit the forged one either
    with db_conn.transaction():
        genuine = db_conn.execute(
            "SELECT key_id, record_signature FROM evidence_exports WHERE id < %s",
            (row_id,)).fetchone()
        (copied_id,) = db_conn.execute(
            "INSERT INTO evidence_exports (bundle_id, source, event_id, manifest_sha256, "
            "bundle_sha256, files, size, signed, actor, key_id, record_signature) VALUES "
            "(%s, 'ioc', 'cam-mk-coc-leu-0007', %s, %s, 3, 1, true, 'x', %s, %s) RETURNING id",
            (str(uuid.uuid4()), "a" * 64, "b" * 64, *genuine)).fetchone()
    code, out = run_audit_verify(settings, capsys)
    assert code == 1
    assert f"evidence_exports row id {copied_id} (bundle" in out
    assert "signature does not match the record" in out


def test_deleted_audit_row_is_detected_and_named(world, db_conn, capsys):
    settings, _bundle, _key = world
    ids = audit_ids(db_conn)
    victim, before, after = ids[2], ids[1], ids[3]
    owner_does(db_conn, ("DELETE FROM audit_log WHERE id = %s", (victim,)))
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
    assert chain.problems == [
        f"audit_log: chain #3 missing between row id {before} (#2) and row id {after} (#4): "
        "1 row(s) deleted"]
    code, out = run_audit_verify(settings, capsys)
    assert code == 1 and "RESULT: TAMPERED" in out and "1 row(s) deleted" in out


def test_deleted_last_audit_rows_are_detected(world, db_conn):
    ids = audit_ids(db_conn)
    owner_does(db_conn, ("DELETE FROM audit_log WHERE id = ANY(%s)", (ids[-2:],)))
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
    assert chain.problems == [
        f"audit_log: the chain's head is #{len(ids)} but the last row is #{len(ids) - 2} "
        f"(row id {ids[-3]}): 2 row(s) deleted at the end"]


def test_altered_audit_row_is_detected_and_named(world, db_conn):
    ids = audit_ids(db_conn)
    owner_does(db_conn, ("UPDATE audit_log SET actor = 'someone-else' WHERE id = %s",
                         (ids[1],)))
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
    assert chain.problems == [f"audit_log row id {ids[1]} (chain #2): content altered (its "
                              "hash no longer matches its columns)"]


def test_altered_and_rehashed_row_is_caught_by_the_next_one(world, db_conn):
    """The insider also recomputes the altered row's own hash: the next row still points at
    the old one."""
    ids = audit_ids(db_conn)
    owner_does(
        db_conn,
        ("UPDATE audit_log SET details = '{\"i\": 99}' WHERE id = %s", (ids[1],)),
        ("UPDATE audit_log SET row_hash = chain_hash(prev_hash, audit_log_chain_content("
         "audit_log)) WHERE id = %s", (ids[1],)),
    )
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
    assert len(chain.problems) == 1
    assert chain.problems[0].startswith(
        f"audit_log row id {ids[2]} (chain #3): its previous hash does not match row id "
        f"{ids[1]} (#2)")


def test_row_inserted_with_the_trigger_off_is_detected(world, db_conn):
    """Positions are unique and required, so the insider appends one at the end with made-up
    hashes: the row and the head both give it away."""
    n = len(audit_ids(db_conn))
    owner_does(db_conn, ("INSERT INTO audit_log (actor, action, chain_seq, prev_hash, "
                         "row_hash) VALUES ('ghost', 'login.success', %s, %s, %s)",
                         (n + 1, "0" * 64, "0" * 64)))
    with db_conn.transaction():
        (ghost,) = db_conn.execute("SELECT id FROM audit_log WHERE actor = 'ghost'").fetchone()
        chain = verify_chain(db_conn, "audit_log")
    assert chain.problems[0].startswith(
        f"audit_log row id {ghost} (chain #{n + 1}): its previous hash does not match")
    assert chain.problems[1] == (f"audit_log row id {ghost} (chain #{n + 1}): content "
                                 "altered (its hash no longer matches its columns)")
    assert chain.problems[2].startswith(
        f"audit_log: the chain's head (#{n}) does not match the last row #{n + 1} "
        f"(row id {ghost})")


def test_concurrent_writers_chain_one_after_the_other(world, db_conn, db_settings):
    """Eight connections append at once, each in its own transaction: one unbroken chain."""
    per_thread, threads = 15, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        try:
            with connect(db_settings) as conn:
                start.wait(timeout=60)
                for i in range(per_thread):
                    with conn.transaction():
                        audit.record(conn, f"w{n}", "evidence.view", f"t{i}", {"n": n, "i": i})
        except BaseException as err:  # reported below
            errors.append(err)

    before = len(audit_ids(db_conn))
    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors, errors
    with db_conn.transaction():
        chain = verify_chain(db_conn, "audit_log")
    assert chain.ok, chain.problems
    assert chain.rows == chain.head_seq == before + per_thread * threads


def test_repeatable_read_writers_get_a_serialization_error_not_a_fork(world, db_settings,
                                                                      db_conn):
    with connect(db_settings) as a, connect(db_settings) as b:
        a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        b.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        b.execute("SELECT 1 FROM audit_log LIMIT 1")  # b's snapshot is taken now
        audit.record(a, "a", "evidence.view")
        a.commit()
        with pytest.raises(psycopg.errors.SerializationFailure):
            audit.record(b, "b", "evidence.view")
        b.rollback()
    with db_conn.transaction():
        assert verify_chain(db_conn, "audit_log").ok
