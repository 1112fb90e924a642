"""`ioc evidence verify|keygen|public-key` and `ioc audit verify`: check bundles and the
tamper-evident records, make and show the deployment's signing key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from evidence.export import deployment_public_key
from evidence.signing import PublicKey, SigningKeyError, generate_key_file, read_public_key
from evidence.verify import VerifyReport, format_report, verify_bundle
from ioc.commands import AddCommand, settings_of
from ioc.config import Settings

# 3: nothing changed, but nothing proves where the bundle comes from (unsigned, or signed by
# a key that is not the trusted one); 0 with --allow-unsigned.
EXIT_OK, EXIT_TAMPERED, EXIT_USAGE, EXIT_NOT_PROVEN = 0, 1, 2, 3


def check_recorded(settings: Settings, report: VerifyReport,
                   public_key: PublicKey | None) -> None:
    """Compare the bundle with the exports recorded in the database, and check that record.

    The manifest's hash must be one this installation exported, the whole file's SHA-256 the
    `bundle_sha256` recorded with it (bytes added before or after the archive, a changed ZIP
    comment or a re-packed archive leave every entry intact but not the file), the record
    signed by the deployment's key (a row INSERTed by anyone else is not), and the chain of
    export records unbroken.
    """
    from evidence.store import find_exports
    from ioc.db import connect
    from ioc.security.hash_chain import verify_chain

    if not report.manifest_sha256:
        return
    with connect(settings.database) as conn:
        exports = find_exports(conn, report.manifest_sha256)
        chain = verify_chain(conn, "evidence_exports")
    report.notes.append(chain.summary())
    report.problems.extend(chain.problems)
    if not exports:
        report.problems.append(
            "manifest.json: its SHA-256 is not among the bundles this IOC exported "
            "(the manifest was edited, or the bundle comes from another installation)")
        return
    genuine = []
    for e in exports:
        problem = e.signature_problem(public_key)
        if problem and (e.record_signature or public_key is not None):
            report.problems.append(problem)
        elif problem:
            report.notes.append(problem)
        else:
            genuine.append(e)
        report.notes.append(
            f"recorded export #{e.id} (bundle {e.bundle_id}) by {e.actor} at "
            f"{e.at.isoformat()}, {e.files} files, {'signed' if e.signed else 'unsigned'}"
            f"{', record signature valid' if not problem else ''}")
    if report.bundle_sha256 is None:
        return
    same = [e for e in exports if e.bundle_sha256 == report.bundle_sha256]
    if same and same[0] in genuine:
        report.recorded_export = same[0].id
        return
    if same:
        return  # the record itself is not genuine: reported above
    e = exports[-1]
    report.problems.append(
        f"bundle file: its SHA-256 {report.bundle_sha256} ({report.bundle_size} bytes) is not "
        f"the {e.bundle_sha256} ({e.size} bytes) recorded at export #{e.id} (bytes added "
        "before or after the archive, its ZIP comment changed, or the archive re-packed)")


def report_json(report: VerifyReport, name: str) -> dict:
    """What `ioc evidence verify --json` prints."""
    return {
        "bundle": name, "ok": report.ok, "origin_proven": report.origin_proven,
        "assurance": report.assurance, "origin": report.origin,
        "bundle_sha256": report.bundle_sha256, "bundle_size": report.bundle_size,
        "manifest_sha256": report.manifest_sha256, "recorded_export": report.recorded_export,
        "files_listed": report.files_listed, "files_ok": report.files_ok,
        "signature": report.signature, "key_id": report.key_id,
        "trusted_key_id": report.trusted_key_id,
        "problems": report.problems, "notes": report.notes,
    }


def trusted_key(settings: Settings, given: Path | None) -> PublicKey | None:
    """The public key to trust: --public-key, else the deployment's own (on the server)."""
    if given is not None:
        return read_public_key(given)
    return deployment_public_key(settings)


def verify_command(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.bundle
    if not path.is_file():
        print(f"ioc evidence verify: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        public_key = trusted_key(settings, getattr(args, "public_key", None))
    except SigningKeyError as err:
        print(f"ioc evidence verify: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.check_db and not settings.database.url:
        print("ioc evidence verify: --check-db needs IOC_DATABASE_URL", file=sys.stderr)
        return EXIT_USAGE
    report = verify_bundle(path, public_key=public_key)
    if args.check_db:
        check_recorded(settings, report, public_key)
    if args.json:
        print(json.dumps(report_json(report, str(path)), ensure_ascii=False, indent=2))
    else:
        print(format_report(report, str(path)))
    if not report.ok:
        return EXIT_TAMPERED
    if report.signature == "valid" or getattr(args, "allow_unsigned", False):
        return EXIT_OK
    return EXIT_NOT_PROVEN


def keygen_command(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file or settings.evidence.signing_key_file
    if path is None:
        print("ioc evidence keygen: give FILE (or set IOC_EVIDENCE_SIGNING_KEY_FILE)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        key = generate_key_file(path)
    except FileExistsError:
        print(f"ioc evidence keygen: {path} exists; a deployment keeps its key (remove the "
              "file yourself to replace it, and publish the new public key)", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"ioc evidence keygen: {path}: {err.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"private key written to {path} (mode 600; keep it on the web server only)",
          file=sys.stderr)
    print(f"fingerprint: {key.public.key_id}", file=sys.stderr)
    print(key.public.pem(), end="")
    return EXIT_OK


def public_key_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        key = trusted_key(settings, args.key)
    except SigningKeyError as err:
        print(f"ioc evidence public-key: {err}", file=sys.stderr)
        return EXIT_USAGE
    if key is None:
        print("ioc evidence public-key: no key (set IOC_EVIDENCE_SIGNING_KEY_FILE or --key)",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"fingerprint: {key.key_id}", file=sys.stderr)
    print(key.pem(), end="")
    return EXIT_OK


def audit_verify_command(settings: Settings, args: argparse.Namespace) -> int:
    """Both hash chains, and the signature of every export record."""
    from evidence.store import all_exports
    from ioc.db import connect
    from ioc.security.hash_chain import verify_chain

    if not settings.database.url:
        print("ioc audit verify: needs IOC_DATABASE_URL", file=sys.stderr)
        return EXIT_USAGE
    try:
        public_key = trusted_key(settings, args.public_key)
    except SigningKeyError as err:
        print(f"ioc audit verify: {err}", file=sys.stderr)
        return EXIT_USAGE
    with connect(settings.database, application_name="ioc-audit-verify") as conn:
        chains = [verify_chain(conn, "audit_log"), verify_chain(conn, "evidence_exports")]
        records = all_exports(conn)
    unsigned = [e for e in records if not e.record_signature]
    record_problems = [p for e in records
                       if (p := e.signature_problem(public_key))
                       and (e.record_signature or public_key is not None)]
    ok = all(c.ok for c in chains) and not record_problems
    if args.json:
        print(json.dumps({
            "ok": ok,
            "chains": [{"table": c.table, "ok": c.ok, "rows": c.rows, "head_seq": c.head_seq,
                        "head_hash": c.head_hash, "problems": c.problems} for c in chains],
            "export_records": len(records), "unsigned_export_records": len(unsigned),
            "export_record_problems": record_problems,
            "trusted_key_id": public_key.key_id if public_key else None,
        }, ensure_ascii=False, indent=2))
    else:
        for c in chains:
            print(c.summary())
            print("\n".join(f"  - {p}" for p in c.problems) or "", end="\n" if c.problems else "")
        print(f"evidence_exports: {len(records)} records, {len(unsigned)} unsigned, "
              f"checked against {public_key.key_id if public_key else 'no public key'}")
        for p in record_problems:
            print(f"  - {p}")
        print("RESULT: OK - the audit log and the export records are intact" if ok
              else "RESULT: TAMPERED")
    return EXIT_OK if ok else EXIT_TAMPERED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ioc evidence verify`."""
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the evidence ZIP")
    parser.add_argument(
        "--public-key", type=Path, metavar="FILE",
        help="the deployment's published public key (PEM) to check the signature with; "
        "default on the server: the key of IOC_EVIDENCE_SIGNING_KEY_FILE",
    )
    parser.add_argument(
        "--allow-unsigned", action="store_true",
        help="exit 0 for an unchanged bundle even when nothing proves its origin (unsigned, "
        "or signed by an unknown key); it is still reported as not proven",
    )
    parser.add_argument(
        "--check-db", action="store_true",
        help="also require the manifest's hash and the whole file's SHA-256 to be those of a "
        "signed export record of this installation, and check the chain of export records",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_subcommands(e_sub, audit_parser: argparse.ArgumentParser,
                    settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """`evidence keygen`, `evidence public-key` and `audit verify`."""
    kg = e_sub.add_parser(
        "keygen", help="Make the deployment's Ed25519 signing key (once per deployment).",
        description="Write a new Ed25519 private key (PEM, mode 600) to FILE (default: "
        "IOC_EVIDENCE_SIGNING_KEY_FILE) and print its public key. Never overwrites a key.")
    kg.add_argument("file", type=Path, nargs="?", metavar="FILE")
    kg.set_defaults(func=lambda a: keygen_command(settings_of(a), a))
    pk = e_sub.add_parser(
        "public-key", help="Print the deployment's public key (PEM) and its fingerprint.")
    pk.add_argument("--key", type=Path, metavar="FILE",
                    help="a private or public key file (default: IOC_EVIDENCE_SIGNING_KEY_FILE)")
    pk.set_defaults(func=lambda a: public_key_command(settings_of(a), a))
    a_sub = audit_parser.add_subparsers(dest="audit_command", metavar="TASK", required=True)
    av = a_sub.add_parser(
        "verify", help="Check the hash chains of the audit log and the export records.",
        description="Walk the hash chains of audit_log and evidence_exports and check every "
        "export record's signature; name each row where a chain breaks (altered, deleted or "
        "inserted). Exit 0: intact; 1: tampered; 2: usage.")
    av.add_argument("--public-key", type=Path, metavar="FILE",
                    help="public key for the export records (default: the deployment's)")
    av.add_argument("--json", action="store_true", help="print the result as JSON")
    av.set_defaults(func=lambda a: audit_verify_command(settings_of(a), a))


def cmd_evidence_verify(args: argparse.Namespace) -> int:
    return verify_command(settings_of(args), args)


def register(add: AddCommand) -> None:
    """`ioc evidence verify|keygen|public-key` and `ioc audit verify`."""
    p = add("evidence", None, "Camera evidence bundles exported from the police page.")
    e_sub = p.add_subparsers(dest="evidence_command", metavar="TASK", required=True)
    ev = e_sub.add_parser(
        "verify",
        help="Check that an evidence bundle is exactly as exported and signed by this IOC.",
        description="Check every file's SHA-256 and size against the manifest, look for added "
        "or removed files, check the manifest against manifest.sha256 and its Ed25519 "
        "signature against the trusted public key (--public-key, or the deployment's). "
        "Exit 0: unchanged and signed by the trusted key; 1: tampered; 2: usage; "
        "3: unchanged but origin not proven (unsigned or unknown key; 0 with --allow-unsigned).",
    )
    add_arguments(ev)
    ev.set_defaults(func=cmd_evidence_verify)
    audit = add("audit", None, "The tamper-evident records: audit log and evidence exports.")
    add_subcommands(e_sub, audit, settings_of)
