"""Checks the hash chains of `audit_log` and `evidence_exports` (migration 0011).

Each row carries chain_seq (1, 2, ...), prev_hash (the previous row's row_hash; 64 zeros for
the first) and row_hash = SHA-256(prev_hash || content), content being the row's columns as a
JSON array (CONTENT below: our own copy of the migration's *_chain_content functions, so a
replaced database function cannot make a changed row look right). `verify_chain` walks the
rows in chain order and names every row where the chain breaks: a row altered (its hash no
longer matches its content), deleted (a gap in chain_seq), inserted without the trigger
(no place in the chain) or slipped in with a forged place (the next row no longer points at
it), and rows deleted at the end (the chain's head in hash_chain_heads is further on).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from psycopg import sql

GENESIS = "0" * 64
_AT = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
CONTENT = {
    "audit_log": f"jsonb_build_array(chain_seq, id, {_AT}, actor, action, target, ip, "
                 "details)::text",
    "evidence_exports": f"jsonb_build_array(chain_seq, id, bundle_id::text, source, event_id, "
                        f"manifest_sha256, bundle_sha256, files, size, signed, actor, ip, {_AT}, "
                        "key_id, record_signature)::text",
}
BATCH = 5000


@dataclass
class ChainReport:
    table: str
    rows: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (f"{self.table}: chain intact, {self.rows} rows, head #{self.head_seq} "
                    f"{self.head_hash}")
        return f"{self.table}: chain BROKEN, {len(self.problems)} problem(s) in {self.rows} rows"


def row_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def verify_chain(conn, table: str) -> ChainReport:
    """Walk `table`'s chain; the caller's transaction gives one consistent snapshot."""
    report = ChainReport(table)
    query = sql.SQL(
        "SELECT id, chain_seq, prev_hash, row_hash, {content} FROM {table} "
        "ORDER BY chain_seq NULLS FIRST, id"
    ).format(content=sql.SQL(CONTENT[table]), table=sql.Identifier(table))
    expect_seq, prev_hash, prev_id = 1, GENESIS, None
    with conn.cursor(name=f"verify_{table}") as cur:
        cur.itersize = BATCH
        cur.execute(query)
        for row_id, seq, stored_prev, stored_hash, content in cur:
            report.rows += 1
            where = f"{table} row id {row_id}"
            if seq is None:
                report.problems.append(
                    f"{where}: has no place in the chain (inserted with the chain trigger "
                    "disabled)")
                continue
            where += f" (chain #{seq})"
            after = f"row id {prev_id} (#{expect_seq - 1})" if prev_id else "the start"
            if seq > expect_seq:
                missing = (f"#{expect_seq}" if seq == expect_seq + 1
                           else f"#{expect_seq}..#{seq - 1}")
                report.problems.append(
                    f"{table}: chain {missing} missing between {after} and row id {row_id} "
                    f"(#{seq}): {seq - expect_seq} row(s) deleted")
            elif seq < expect_seq:
                report.problems.append(f"{where}: chain position used twice (inserted row)")
            elif stored_prev != prev_hash:
                report.problems.append(
                    f"{where}: its previous hash does not match {after}: {after} was altered "
                    "and re-hashed, or a row was inserted or deleted between them")
            if row_hash(stored_prev or "", content) != stored_hash:
                report.problems.append(
                    f"{where}: content altered (its hash no longer matches its columns)")
            expect_seq, prev_hash, prev_id = seq + 1, stored_hash, row_id
    head = conn.execute("SELECT seq, hash FROM hash_chain_heads WHERE chain = %s",
                        (table,)).fetchone()
    if head is None:
        report.problems.append(f"{table}: the chain's head row is missing from hash_chain_heads")
        return report
    report.head_seq, report.head_hash = head
    last = expect_seq - 1
    if report.head_seq > last:
        report.problems.append(
            f"{table}: the chain's head is #{report.head_seq} but the last row is #{last}"
            f"{f' (row id {prev_id})' if prev_id else ''}: {report.head_seq - last} row(s) "
            "deleted at the end")
    elif report.head_seq < last or report.head_hash != prev_hash:
        report.problems.append(
            f"{table}: the chain's head (#{report.head_seq}) does not match the last row "
            f"#{last}{f' (row id {prev_id})' if prev_id else ''}: the head was rewritten")
    return report
