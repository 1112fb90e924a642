"""`ioc evidence verify --check-db` against a real export: the very file exported proves its
origin; the same entries in a different file (bytes appended or prepended, a changed ZIP
comment) are reported, although every entry and the manifest are intact; a forged export
record is caught by its missing signature."""

from __future__ import annotations

import json
import struct
from types import SimpleNamespace

import pytest

from evidence.cli import check_recorded, verify_command
from evidence.export import export_incident
from evidence.signing import generate_key_file
from evidence.verify import format_report, verify_bundle
from ioc.config import Settings
from tests.integration.test_police_ingest import seed_incident_scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def exported(db_settings, db_conn, tmp_path):
    seed_incident_scenario(db_conn)
    key_file = tmp_path / "evidence-key.pem"
    key = generate_key_file(key_file)
    with db_conn.transaction():
        bundle = export_incident(db_conn, "ioc", "cam-mk-coc-leu-0007", actor="t-police",
                                 ip="10.0.0.5", signing_key=key)
    assert bundle is not None and bundle.signed
    settings = Settings(env="test", state_dir=tmp_path / "state", database=db_settings,
                        evidence={"signing_key_file": key_file})
    return settings, bundle


def with_comment(content: bytes, comment: bytes) -> bytes:
    """The same archive with another ZIP comment (the end record's last field)."""
    end = content.rindex(b"PK\x05\x06")
    return content[:end + 20] + struct.pack("<H", len(comment)) + comment


def checked(settings, content: bytes):
    from evidence.export import deployment_public_key

    public_key = deployment_public_key(settings)
    report = verify_bundle(content, public_key=public_key)
    check_recorded(settings, report, public_key)
    return report


def test_the_exported_file_proves_its_origin(exported):
    settings, bundle = exported
    report = checked(settings, bundle.content)
    assert report.ok, report.problems
    assert report.recorded_export is not None and report.origin_proven
    assert report.assurance == "signed" and report.signature == "valid"
    assert "origin proven" in format_report(report, "x.zip")
    assert any("record signature valid" in n for n in report.notes)
    assert any(n.startswith("evidence_exports: chain intact, 1 rows") for n in report.notes)


@pytest.mark.parametrize("change", ["appended", "prepended", "comment", "comment_changed"])
def test_a_different_file_with_intact_entries_is_reported(exported, change):
    settings, bundle = exported
    content = {
        "appended": lambda c: c + b"\x00hidden payload",
        "prepended": lambda c: b"MZ\x90\x00 some stub " + c,
        "comment": lambda c: with_comment(c, b"edited by someone"),
        "comment_changed": lambda c: with_comment(with_comment(c, b"a"), b"b"),
    }[change](bundle.content)
    alone = verify_bundle(content)
    assert alone.ok, alone.problems  # every entry and the manifest are still intact ...
    assert alone.manifest_sha256 == bundle.manifest_sha256
    report = checked(settings, content)
    assert not report.ok and not report.origin_proven  # ... but the file is not the one exported
    assert len(report.problems) == 1 and report.problems[0].startswith("bundle file:")
    assert bundle.bundle_sha256 in report.problems[0]
    assert report.recorded_export is None


def test_cli_check_db(exported, tmp_path, capsys):
    settings, bundle = exported
    path = tmp_path / bundle.filename

    def run(content: bytes, as_json: bool = False) -> int:
        path.write_bytes(content)
        args = SimpleNamespace(bundle=path, public_key=None, allow_unsigned=False,
                               check_db=True, json=as_json)
        return verify_command(settings, args)

    assert run(bundle.content) == 0
    assert "RESULT: OK - no change detected, origin proven" in capsys.readouterr().out
    assert run(bundle.content + b"\n", as_json=True) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["problems"][0].startswith("bundle file:")
    assert doc["bundle_sha256"] != bundle.bundle_sha256
    truncated = bundle.content[: len(bundle.content) // 2]
    assert run(truncated) == 1
    assert "RESULT: TAMPERED" in capsys.readouterr().out
