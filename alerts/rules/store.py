"""The admin-editable `alert_rules` table: rules that override or extend the rules file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from alerts.rules import RulesError, RuleSet, load_rules, parse_rule, with_overrides
from ioc.security import audit

log = logging.getLogger(__name__)

# What the changes below write to the audit log (ioc.security.audit.ACTIONS lists them too).
AUDIT_SAVE = "alert_rule.save"
AUDIT_ENABLE = "alert_rule.enable"
AUDIT_DISABLE = "alert_rule.disable"
AUDIT_DELETE = "alert_rule.delete"
AUDIT_ACTIONS = (AUDIT_SAVE, AUDIT_ENABLE, AUDIT_DISABLE, AUDIT_DELETE)


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


def _definition(rule) -> dict:
    """What a row stores: the rule as in the file, without `enabled` (the column says that)."""
    stored = rule.model_dump(mode="json", exclude_defaults=True)
    stored["type"] = rule.type
    stored.pop("enabled", None)
    return stored


def save_rule(conn: psycopg.Connection, definition: dict, actor: str, *,
              enabled: bool | None = None):
    """Validate `definition` (one rule, as in the rules file) and store it; returns the rule.

    `enabled` defaults to the definition's own `enabled` (true when absent). Raises
    RulesError (naming the rule and the field) when it does not validate. The change is
    written to the audit log. Commits by itself unless the caller has a transaction open
    (then it joins it).
    """
    rule = parse_rule(definition, source="alert_rules")
    if enabled is None:
        enabled = rule.enabled
    stored = _definition(rule)
    with conn.transaction():
        conn.execute(
            "INSERT INTO alert_rules (rule_id, definition, enabled, updated_by) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (rule_id) DO UPDATE SET "
            "definition = EXCLUDED.definition, enabled = EXCLUDED.enabled, "
            "updated_by = EXCLUDED.updated_by, updated_at = now()",
            (rule.id, Jsonb(stored), enabled, actor),
        )
        audit.record(conn, actor, AUDIT_SAVE, rule.id,
                     {"definition": stored, "enabled": enabled})
    return rule if rule.enabled == enabled else rule.model_copy(update={"enabled": enabled})


def set_rule_enabled(conn: psycopg.Connection, rule_id: str, enabled: bool, actor: str,
                     base: RuleSet | None = None) -> None:
    """Switch a rule on or off; a rule only in the file gets a row that overrides it.

    Raises RulesError when `rule_id` is neither in the table nor in `base` (default: the
    built-in rules file).
    """
    with conn.transaction():
        # A row written before `enabled` was kept out of the definition may still carry it.
        updated = conn.execute(
            "UPDATE alert_rules SET enabled = %s, definition = definition - 'enabled', "
            "updated_by = %s, updated_at = now() WHERE rule_id = %s",
            (enabled, actor, rule_id)).rowcount
        if not updated:
            rule = (base or load_rules()).rule(rule_id)
            if rule is None:
                raise RulesError(f"alert_rules: no rule {rule_id!r} in the file or the table")
            conn.execute(
                "INSERT INTO alert_rules (rule_id, definition, enabled, updated_by) "
                "VALUES (%s, %s, %s, %s)", (rule_id, Jsonb(_definition(rule)), enabled, actor))
        audit.record(conn, actor, AUDIT_ENABLE if enabled else AUDIT_DISABLE, rule_id)


def delete_rule(conn: psycopg.Connection, rule_id: str, actor: str) -> bool:
    """Remove a table row (a file rule comes back as the file has it); False if none."""
    with conn.transaction():
        deleted = conn.execute("DELETE FROM alert_rules WHERE rule_id = %s", (rule_id,)).rowcount
        if deleted:
            audit.record(conn, actor, AUDIT_DELETE, rule_id)
    return bool(deleted)


@dataclass(frozen=True)
class RuleListing:
    """One effective rule and where it comes from."""

    rule: Any
    source: str  # "file", "table", or "table+file" (a row overriding a file rule)
    updated_by: str | None = None


def list_rules(conn: psycopg.Connection, rules_file: Path | None = None,
               base: RuleSet | None = None) -> tuple[list[RuleListing], list[str]]:
    """The effective rules, each with its source, and the problems of rows skipped."""
    base = base or load_rules(rules_file)
    rules, problems = effective_rules(conn, base=base)
    rows = {row.rule_id: row for row in stored_rules(conn)}
    in_file = {r.id for r in base.rules}
    listing = []
    for rule in rules.rules:
        row = rows.get(rule.id)
        if row is None:
            listing.append(RuleListing(rule, "file"))
        else:
            source = "table+file" if rule.id in in_file else "table"
            listing.append(RuleListing(rule, source, row.updated_by))
    return listing, problems
