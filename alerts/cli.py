"""`ioc alerts` (run the alerts worker) and `ioc alerts rules list|show|set|enable|disable|delete`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ioc.commands import (
    AddCommand,
    UsageError,
    actor_of,
    add_actor_option,
    database,
    settings_of,
)
from ioc.config import Settings


def cmd_alerts(args: argparse.Namespace) -> int:
    from alerts.worker import run_worker

    return run_worker(settings_of(args), name=getattr(args, "name", None))


# -- alert rules in the alert_rules table (alerts.rules.store) --------------------------------
def _rules_conn(settings: Settings):
    return database(settings, "ioc-cli", "the alert_rules table is in the database")


def cmd_alerts_rules_list(args: argparse.Namespace) -> int:
    from alerts.rules.store import list_rules

    settings = settings_of(args)
    with _rules_conn(settings) as conn:
        listing, problems = list_rules(conn, settings.alerts.rules_file)
    print(f"{'id':<28} {'type':<16} {'state':<9} {'source':<11} changed by")
    for item in listing:
        state = "enabled" if item.rule.enabled else "disabled"
        print(f"{item.rule.id:<28} {item.rule.type:<16} {state:<9} {item.source:<11} "
              f"{item.updated_by or '-'}")
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0


def cmd_alerts_rules_show(args: argparse.Namespace) -> int:
    import yaml

    from alerts.rules.store import list_rules

    settings = settings_of(args)
    with _rules_conn(settings) as conn:
        listing, _problems = list_rules(conn, settings.alerts.rules_file)
    item = next((i for i in listing if i.rule.id == args.rule_id), None)
    if item is None:
        print(f"ioc alerts rules show: no rule {args.rule_id!r} (see `ioc alerts rules list`)",
              file=sys.stderr)
        return 1
    definition = {"id": item.rule.id, "type": item.rule.type,
                  **item.rule.model_dump(mode="json", exclude_defaults=True)}
    changed = f", changed by {item.updated_by}" if item.updated_by else ""
    print(f"# source: {item.source}{changed}")
    print(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), end="")
    return 0


def _read_rule_file(path: str) -> list[dict]:
    """The rule mappings in a YAML or JSON file: one rule, or `rules:` with several."""
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: neither YAML nor JSON ({err})") from None
    if isinstance(data, dict) and set(data) == {"rules"} and isinstance(data["rules"], list):
        data = data["rules"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(i, dict) for i in items):
        raise UsageError(f"{path}: expected one rule (a mapping with id and type) or `rules:`")
    return items


def cmd_alerts_rules_set(args: argparse.Namespace) -> int:
    from alerts.rules import RulesError
    from alerts.rules.store import save_rule

    settings = settings_of(args)
    definitions = _read_rule_file(args.file)
    with _rules_conn(settings) as conn:
        try:
            with conn.transaction():  # every rule of the file, or none
                saved = [save_rule(conn, d, actor_of(args)) for d in definitions]
        except RulesError as err:
            print(f"ioc alerts rules set: {args.file}: {err}", file=sys.stderr)
            return 1
    for rule in saved:
        state = "enabled" if rule.enabled else "disabled"
        print(f"rule {rule.id} ({rule.type}) stored, {state}")
    return 0


def _rules_enable(args: argparse.Namespace, enabled: bool) -> int:
    from alerts.rules import RulesError, load_rules
    from alerts.rules.store import set_rule_enabled

    settings = settings_of(args)
    with _rules_conn(settings) as conn:
        try:
            set_rule_enabled(conn, args.rule_id, enabled, actor_of(args),
                             base=load_rules(settings.alerts.rules_file))
        except RulesError as err:
            print(f"ioc alerts rules {args.rules_command}: {err}", file=sys.stderr)
            return 1
    print(f"rule {args.rule_id} {'enabled' if enabled else 'disabled'}")
    return 0


def cmd_alerts_rules_enable(args: argparse.Namespace) -> int:
    return _rules_enable(args, True)


def cmd_alerts_rules_disable(args: argparse.Namespace) -> int:
    return _rules_enable(args, False)


def cmd_alerts_rules_delete(args: argparse.Namespace) -> int:
    from alerts.rules.store import delete_rule

    settings = settings_of(args)
    with _rules_conn(settings) as conn:
        deleted = delete_rule(conn, args.rule_id, actor_of(args))
    if not deleted:
        print(f"ioc alerts rules delete: no rule {args.rule_id!r} in the alert_rules table "
              "(a rule of the rules file cannot be deleted here: disable it)", file=sys.stderr)
        return 1
    print(f"rule {args.rule_id} deleted from the alert_rules table")
    return 0




def register(add: AddCommand) -> None:
    """`ioc alerts` (the worker) and `ioc alerts rules ...`."""
    p = add("alerts", cmd_alerts,
            "Run the alerts worker; `ioc alerts rules ...` edits the admin's alert rules.")
    p.usage = "%(prog)s [-h] [--name NAME] [rules ACTION ...]"
    p.add_argument("--name", default=None,
                   help="worker name, stable across restarts so the worker takes back its own "
                   "unacknowledged stream entries at once (default: host name and process id; "
                   "give each worker its own)")
    # Optional: `ioc alerts` alone still runs the worker, as it always has.
    a_sub = p.add_subparsers(dest="alerts_command", metavar="TASK")
    rules = a_sub.add_parser(
        "rules", help="Alert rules in the database (override or extend the rules file).",
        description="Alert rules stored in the alert_rules table: they override the rules "
        "file's rule of the same id, or add to it. Every change is validated like the rules "
        "file and written to the audit log. Running workers pick changes up within "
        "alerts.reload_s (30 s).",
    )
    r_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    r = r_sub.add_parser("list", help="List the effective rules and where each comes from.",
                         description="List the effective rules: id, type, enabled or not, "
                         "source (file, table, or table+file: a row overriding a file rule) and "
                         "who last changed a row.")
    r.set_defaults(func=cmd_alerts_rules_list)

    r = r_sub.add_parser("show", help="Print one effective rule as YAML (usable with `set`).")
    r.add_argument("rule_id", metavar="ID")
    r.set_defaults(func=cmd_alerts_rules_show)

    r = r_sub.add_parser(
        "set", help="Validate a rule from a YAML or JSON file and store it.",
        description="Validate FILE with the rules file's models and store it in the "
        "alert_rules table (replacing a stored rule of the same id). FILE holds one rule "
        "(a mapping with id and type, as one entry of the rules file), or `rules:` with "
        "several (stored all or none); `-` reads standard input. A rule with enabled: false "
        "is stored switched off. Exit 0 stored, 1 refused (the reason names rule and key).",
    )
    r.add_argument("file", metavar="FILE")
    add_actor_option(r)
    r.set_defaults(func=cmd_alerts_rules_set)

    for action, func, text in (
        ("enable", cmd_alerts_rules_enable, "Switch a rule on."),
        ("disable", cmd_alerts_rules_disable,
         "Switch a rule off (a rule of the file gets a table row that overrides it)."),
        ("delete", cmd_alerts_rules_delete,
         "Delete a table row: a rule of the file comes back as the file has it."),
    ):
        r = r_sub.add_parser(action, help=text, description=text)
        r.add_argument("rule_id", metavar="ID")
        add_actor_option(r)
        r.set_defaults(func=func)
