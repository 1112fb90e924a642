"""Least privilege: the runtime role the IOC processes connect as, and what it may do.

Migrations run as the owner of the schema; every long-running process (ingest, alerts, web,
sim) connects as a runtime role that owns nothing and is not a superuser. The runtime role may
read and write the ordinary tables, but only read and append to the tables below: it cannot
UPDATE, DELETE or TRUNCATE them, and as it owns none of them it cannot disable their triggers,
drop them, or create anything in the schema. `session_replication_role` is superuser-only.

`grant_runtime_privileges` is re-run by every `ioc db migrate` after the migrations, so a table
added by a later migration is covered by the next migrate; ALTER DEFAULT PRIVILEGES covers the
owner's tables made in between (append-only by default: SELECT and INSERT only).
See docs/security.md, "Database roles".
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

log = logging.getLogger(__name__)

# Tables the runtime role may only read and append to (SELECT, INSERT). Adding an
# append-only table is one line here; `ioc db migrate` then applies it.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "audit_log",
    "incident_reviews",
    "incident_notes",
    "evidence_custody",
    "evidence_exports",
)
# Tables the runtime role may only read. hash_chain_heads is written only by the chain
# trigger (SECURITY DEFINER, migration 0011), never by the application itself.
READ_ONLY_TABLES: tuple[str, ...] = ("schema_migrations", "hash_chain_heads")
# What the runtime role gets on every other table of the schema (never TRUNCATE, TRIGGER,
# REFERENCES or MAINTAIN).
READ_WRITE = sql.SQL("SELECT, INSERT, UPDATE, DELETE")


class PrivilegeError(Exception):
    """The runtime role is missing or has more power than a runtime role may have."""


def url_user(url: str) -> str | None:
    """The user name in a postgresql:// URL (None when the URL names none)."""
    return conninfo_to_dict(url).get("user")


def with_login(url: str, user: str, password: str) -> str:
    """`url` with its user and password replaced (the host, port and database kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_runtime_role(conn: psycopg.Connection, role: str, password: str) -> None:
    """Create the runtime role (or reset its password and powers); run by a role admin."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
    conn.execute(
        sql.SQL(
            "{} {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS"
        ).format(verb, sql.Identifier(role), sql.Literal(password))
    )


def check_runtime_role(conn: psycopg.Connection, schema: str, role: str) -> None:
    """Raise PrivilegeError unless `role` exists and is a plain role that owns nothing here."""
    row = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls, "
        "       pg_has_role(%s, current_user, 'MEMBER') "
        "FROM pg_roles WHERE rolname = %s",
        (role, role),
    ).fetchone()
    if row is None:
        raise PrivilegeError(
            f"the runtime role {role!r} (the user of IOC_DATABASE_URL) does not exist; create "
            f"it as the owner: CREATE ROLE {role} LOGIN PASSWORD '...'  (docs/security.md)"
        )
    superuser, createrole, replication, bypassrls, member_of_owner = row
    powers = [name for name, has in (("SUPERUSER", superuser), ("CREATEROLE", createrole),
                                     ("REPLICATION", replication), ("BYPASSRLS", bypassrls))
              if has]
    if powers:
        raise PrivilegeError(
            f"the runtime role {role!r} has {', '.join(powers)}; a runtime role must not "
            f"(ALTER ROLE {role} NO{' NO'.join(powers)})"
        )
    if member_of_owner:
        raise PrivilegeError(
            f"the runtime role {role!r} is a member of the owner role; it could act as the "
            "owner (REVOKE the membership)"
        )
    owned = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (schema, role),
    ).fetchone()[0]
    schema_owner = conn.execute(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (schema,)
    ).fetchone()
    if owned or (schema_owner and schema_owner[0] == role):
        raise PrivilegeError(
            f"the runtime role {role!r} owns the schema {schema} or {owned} object(s) in it; "
            "the owner must own them (ALTER ... OWNER TO the owner role)"
        )


def _existing(conn: psycopg.Connection, schema: str, tables: tuple[str, ...]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p')",
        (schema, list(tables)),
    ).fetchall()
    found = {r[0] for r in rows}
    missing = [t for t in tables if t not in found]
    if missing:
        raise PrivilegeError(
            f"ioc/db/privileges.py names table(s) {', '.join(missing)} that schema {schema} "
            "does not have"
        )
    return list(tables)


def _verify(conn: psycopg.Connection, schema: str, role: str, append_only: list[str]) -> None:
    """Privileges held through PUBLIC or another role are not revoked above: refuse them."""
    if conn.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", (role, schema)).fetchone()[0]:
        raise PrivilegeError(
            f"the runtime role {role!r} may still CREATE in schema {schema} (through PUBLIC or "
            f"another role): REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC"
        )
    for table in append_only:
        qualified = f"{schema}.{table}"
        for privilege in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"):
            held = conn.execute(
                "SELECT has_table_privilege(%s, %s, %s)", (role, qualified, privilege)
            ).fetchone()[0]
            if held:
                raise PrivilegeError(
                    f"the runtime role {role!r} still holds {privilege} on {qualified} "
                    "(through PUBLIC or another role): revoke it there"
                )


def grant_runtime_privileges(conn: psycopg.Connection, schema: str, role: str) -> None:
    """Give `role` exactly the runtime privileges on `schema`; idempotent, one transaction."""
    check_runtime_role(conn, schema, role)
    s, r = sql.Identifier(schema), sql.Identifier(role)
    append_only = _existing(conn, schema, APPEND_ONLY_TABLES)
    read_only = _existing(conn, schema, READ_ONLY_TABLES)
    statements = [
        # Usage, never CREATE: the runtime role makes no object in the schema.
        sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(s, r),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r),
        # Start from nothing on every table, then grant: re-running gives the same result.
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(READ_WRITE, s, r),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(s, r),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, r),
        # Tables the owner creates later: append-only until the next migrate widens them.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA {} "
            "GRANT SELECT, INSERT ON TABLES TO {}"
        ).format(s, r),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA {} "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(s, r),
    ]
    for table in append_only:
        statements.append(
            sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(sql.Identifier(schema, table), r)
        )
    for table in read_only:
        statements.append(
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                sql.Identifier(schema, table), r
            )
        )
    with conn.transaction():
        for statement in statements:
            conn.execute(statement)
        _verify(conn, schema, role, append_only)
    log.info("runtime role %s: privileges on schema %s granted (%d append-only tables)",
             role, schema, len(append_only))


def owner_powers(conn: psycopg.Connection, schema: str) -> str | None:
    """Why the connected role is more than a runtime role (superuser, owner), or None."""
    superuser, user = conn.execute(
        "SELECT rolsuper, rolname FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if superuser:
        return f"{user!r} is a superuser"
    owned = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND pg_has_role(current_user, c.relowner, 'USAGE')",
        (schema,),
    ).fetchone()[0]
    if owned:
        return f"{user!r} owns (or may act as the owner of) {owned} object(s) in schema {schema}"
    return None

