"""The admin-editable `alert_rules` table: rules that override or extend the rules file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from alerts.rules import RulesError, RuleSet, load_rules, parse_rule, with_overrides

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredRule:
    rule_id: str
    definition: dict
    enabled: bool
    updated_by: str


def stored_rules(conn: psycopg.Connection) -> list[StoredRule]:
    rows = conn.execute(
        "SELECT rule_id, definition, enabled, updated_by FROM alert_rules ORDER BY rule_id"
    ).fetchall()
    return [StoredRule(*row) for row in rows]


def _rule_of(row: StoredRule):
    definition = {**row.definition, "id": row.rule_id}
    if not row.enabled:
        definition["enabled"] = False
    return parse_rule(definition, source=f"alert_rules row {row.rule_id!r}")


def effective_rules(conn: psycopg.Connection, rules_file: Path | None = None,
                    base: RuleSet | None = None) -> tuple[RuleSet, list[str]]:
    """The rules file with the table's rules applied, and the problems of rows skipped.

    A row that no longer validates (the schema moved on) is skipped with a warning rather
    than stopping every rule.
    """
    base = base or load_rules(rules_file)
    rules, problems = [], []
    for row in stored_rules(conn):
        try:
            rules.append(_rule_of(row))
        except RulesError as err:
            problems.append(str(err))
    for problem in problems:
        log.warning("skipping %s", problem)
    return with_overrides(base, rules), problems


def save_rule(conn: psycopg.Connection, definition: dict, actor: str, *,
              enabled: bool = True):
    """Validate `definition` (one rule, as in the rules file) and store it; returns the rule.

    Raises RulesError (naming the rule and the field) when it does not validate. The change
    is written to the audit log. Commits by itself unless the caller has a transaction open
    (then it joins it).
    """
    rule = parse_rule(definition, source="alert_rules")
    stored = rule.model_dump(mode="json", exclude_defaults=True)
    stored["type"] = rule.type
    with conn.transaction():
        conn.execute(
            "INSERT INTO alert_rules (rule_id, definition, enabled, updated_by) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (rule_id) DO UPDATE SET "
            "definition = EXCLUDED.definition, enabled = EXCLUDED.enabled, "
            "updated_by = EXCLUDED.updated_by, updated_at = now()",
            (rule.id, Jsonb(stored), enabled, actor),
        )
        conn.execute(
            "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s)",
            (actor, "alert_rule.save", rule.id, Jsonb({"definition": stored, "enabled": enabled})),
        )
    return rule


def set_rule_enabled(conn: psycopg.Connection, rule_id: str, enabled: bool, actor: str,
                     base: RuleSet | None = None) -> None:
    """Switch a rule on or off; a rule only in the file gets a row that overrides it."""
    with conn.transaction():
        updated = conn.execute(
            "UPDATE alert_rules SET enabled = %s, updated_by = %s, updated_at = now() "
            "WHERE rule_id = %s", (enabled, actor, rule_id)).rowcount
        if not updated:
            rule = (base or load_rules()).rule(rule_id)
            if rule is None:
                raise RulesError(f"alert_rules: no rule {rule_id!r} in the file or the table")
            stored = rule.model_dump(mode="json", exclude_defaults=True)
            stored["type"] = rule.type
            conn.execute(
                "INSERT INTO alert_rules (rule_id, definition, enabled, updated_by) "
                "VALUES (%s, %s, %s, %s)", (rule_id, Jsonb(stored), enabled, actor))
        conn.execute(
            "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s)",
            (actor, "alert_rule.enable" if enabled else "alert_rule.disable", rule_id,
             Jsonb({})),
        )


def delete_rule(conn: psycopg.Connection, rule_id: str, actor: str) -> bool:
    """Remove a table row (a file rule comes back as the file has it)."""
    with conn.transaction():
        deleted = conn.execute("DELETE FROM alert_rules WHERE rule_id = %s", (rule_id,)).rowcount
        if deleted:
            conn.execute(
                "INSERT INTO audit_log (actor, action, target, details) "
                "VALUES (%s, 'alert_rule.delete', %s, '{}')", (actor, rule_id))
    return bool(deleted)
