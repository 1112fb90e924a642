"""`ioc evidence verify BUNDLE`: says whether an evidence bundle is exactly as exported."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ioc.config import Settings
from ioc.evidence.export import evidence_key
from ioc.evidence.verify import VerifyReport, format_report, verify_bundle

EXIT_OK, EXIT_TAMPERED, EXIT_USAGE = 0, 1, 2


def check_recorded(settings: Settings, report: VerifyReport) -> None:
    """Compare the bundle with the exports recorded in the database.

    The manifest's hash must be one this installation exported, and the whole file's
    SHA-256 the `bundle_sha256` recorded with it: bytes added before or after the archive,
    a changed ZIP comment or a re-packed archive leave every entry intact but not the file.
    """
    from ioc.db import connect
    from ioc.evidence.store import find_exports

    if not report.manifest_sha256:
        return
    with connect(settings.database) as conn:
        exports = find_exports(conn, report.manifest_sha256)
    if not exports:
        report.problems.append(
            "manifest.json: its SHA-256 is not among the bundles this IOC exported "
            "(the manifest was edited, or the bundle comes from another installation)")
        return
    for e in exports:
        report.notes.append(
            f"recorded export #{e.id} (bundle {e.bundle_id}) by {e.actor} at "
            f"{e.at.isoformat()}, {e.files} files, {'signed' if e.signed else 'unsigned'}")
    if report.bundle_sha256 is None:
        return
    same = [e for e in exports if e.bundle_sha256 == report.bundle_sha256]
    if same:
        report.recorded_export = same[0].id
        return
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
        "signature": report.signature, "problems": report.problems, "notes": report.notes,
    }


def verify_command(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.bundle
    if not path.is_file():
        print(f"ioc evidence verify: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    key = evidence_key(settings)
    report = verify_bundle(path, key=key, require_signature=args.require_signature)
    if args.check_db:
        if not settings.database.url:
            print("ioc evidence verify: --check-db needs IOC_DATABASE_URL", file=sys.stderr)
            return EXIT_USAGE
        check_recorded(settings, report)
    if args.json:
        print(json.dumps(report_json(report, str(path)), ensure_ascii=False, indent=2))
    else:
        print(format_report(report, str(path)))
    return EXIT_OK if report.ok else EXIT_TAMPERED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ioc evidence verify` (the parser itself lives in ioc/cli.py)."""
    parser.add_argument("bundle", type=Path, metavar="BUNDLE", help="the evidence ZIP")
    parser.add_argument(
        "--require-signature", action="store_true",
        help="fail when the bundle has no manifest.hmac (implied when a key is set)",
    )
    parser.add_argument(
        "--check-db", action="store_true",
        help="also require the manifest's hash and the whole file's SHA-256 to be those this "
        "installation recorded at export",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
