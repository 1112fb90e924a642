"""Evidence bundles: a built bundle verifies; any change to it is detected and named."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from types import SimpleNamespace

import pytest
from PIL import Image

from ioc.evidence.bundle import (
    MANIFEST,
    MANIFEST_HASH,
    MANIFEST_HMAC,
    BundleFile,
    build_bundle,
    sha256_hex,
    snapshot_path,
)
from ioc.evidence.cli import verify_command
from ioc.evidence.verify import format_report, verify_bundle

KEY = b"test-evidence-key-0123456789"
WHEN = dt.datetime(2025, 6, 1, 1, 5, tzinfo=dt.UTC)


def jpeg(colour: tuple[int, int, int], size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def make_bundle(key: bytes | None = None):
    images = [jpeg((200, 40, 40)), jpeg((40, 200, 40))]
    files = [BundleFile(snapshot_path(sha256_hex(b), "image/jpeg"), b, "image/jpeg",
                        {"camera": "cam-mk-coc-leu"}) for b in images]
    incident = {"source": "ioc", "event_id": "cam-mk-coc-leu-0007", "type": "fire",
                "device_id": "cam-mk-coc-leu", "plate": None,
                "started_at": WHEN - dt.timedelta(minutes=5), "zones": ["stalls"]}
    custody = [{"at": WHEN, "actor": "cong-an-1", "action": "export", "ip": "10.0.0.5",
                "details": {}}]
    return build_bundle(incident=incident, files=files, custody=custody,
                        reviews=[{"decision": "verified", "reason": "khói thật",
                                  "actor": "cong-an-1", "at": WHEN}],
                        bundle_id="b-1", created_at=WHEN, created_by="cong-an-1", key=key)


def rewrite(content: bytes, *, drop=(), replace=None, add=None, duplicate=None) -> bytes:
    """A copy of the ZIP with entries dropped, replaced, added or duplicated."""
    replace = replace or {}
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, data in (add or {}).items():
            dst.writestr(name, data)
        if duplicate:
            dst.writestr(duplicate[0], duplicate[1])
    return out.getvalue()


def names(content: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(content)).namelist()


def snapshot_name(content: bytes) -> str:
    return next(n for n in names(content) if n.startswith("snapshots/"))


def test_fresh_bundle_verifies():
    bundle = make_bundle()
    report = verify_bundle(bundle.content)
    assert report.ok, report.problems
    assert report.files_listed == report.files_ok == 3  # README + two snapshots
    assert report.manifest_sha256 == bundle.manifest_sha256
    assert report.signature == "none"
    assert report.bundle_sha256 == bundle.bundle_sha256
    assert report.bundle_size == len(bundle.content)
    assert not report.origin_proven and report.assurance == "integrity_only"
    text = format_report(report, "b.zip")
    assert "integrity only: not signed, cannot prove origin" in text
    assert "RESULT: OK - no change detected (integrity only" in text
    assert set(names(bundle.content)) == {MANIFEST, MANIFEST_HASH, "README.txt",
                                          *(f["path"] for f in bundle.manifest["files"][1:])}
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read(MANIFEST))
    assert manifest["incident"]["event_id"] == "cam-mk-coc-leu-0007"
    assert manifest["custody"][0]["action"] == "export"
    assert manifest["created_at"] == "2025-06-01T01:05:00Z"
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])


def test_bundle_is_reproducible():
    assert make_bundle().content == make_bundle().content


def test_changed_file_is_detected():
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    report = verify_bundle(rewrite(bundle.content, replace={name: jpeg((0, 0, 0))}))
    assert not report.ok
    assert any(p.startswith(f"{name}: changed") for p in report.problems)


def test_one_flipped_byte_is_detected():
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    data = bytearray(zipfile.ZipFile(io.BytesIO(bundle.content)).read(name))
    data[len(data) // 2] ^= 0x01
    report = verify_bundle(rewrite(bundle.content, replace={name: bytes(data)}))
    assert [p.split(":")[0] for p in report.problems] == [name]


def test_removed_file_is_detected():
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    report = verify_bundle(rewrite(bundle.content, drop={name}))
    assert report.problems == [f"{name}: missing (listed in the manifest)"]


def test_added_file_is_detected():
    bundle = make_bundle()
    report = verify_bundle(rewrite(bundle.content, add={"snapshots/extra.jpg": jpeg((1, 2, 3))}))
    assert report.problems == ["snapshots/extra.jpg: added (not listed in the manifest)"]


def test_duplicate_entry_is_detected():
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    with pytest.warns(UserWarning, match="Duplicate name"):
        tampered = rewrite(bundle.content, duplicate=(name, jpeg((9, 9, 9))))
    report = verify_bundle(tampered)
    assert any("appears more than once" in p for p in report.problems)


def _edit_manifest(content: bytes, change) -> bytes:
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(content)).read(MANIFEST))
    change(manifest)
    return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def test_edited_manifest_is_detected():
    bundle = make_bundle()
    edited = _edit_manifest(bundle.content,
                            lambda m: m["incident"].update(device_id="cam-other"))
    report = verify_bundle(rewrite(bundle.content, replace={MANIFEST: edited}))
    assert len(report.problems) == 1 and report.problems[0].startswith("manifest.json: changed")


def test_replaced_file_with_edited_manifest_is_caught_by_the_hash():
    """Swap a picture and fix its entry in the manifest: manifest.sha256 no longer matches."""
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    fake = jpeg((0, 0, 0))

    def swap(m):
        for f in m["files"]:
            if f["path"] == name:
                f.update(sha256=sha256_hex(fake), size=len(fake))

    tampered = rewrite(bundle.content, replace={name: fake,
                                                MANIFEST: _edit_manifest(bundle.content, swap)})
    report = verify_bundle(tampered)
    assert [p.split(":")[0] for p in report.problems] == ["manifest.json"]


def test_rehashed_manifest_is_caught_by_the_hmac():
    bundle = make_bundle(key=KEY)
    assert verify_bundle(bundle.content, key=KEY).signature == "valid"
    edited = _edit_manifest(bundle.content, lambda m: m["custody"].clear())
    tampered = rewrite(bundle.content, replace={
        MANIFEST: edited, MANIFEST_HASH: f"{sha256_hex(edited)}  manifest.json\n".encode()})
    # without the key, a consistent forgery is intact -- but nothing proves where it came from
    unproven = verify_bundle(tampered)
    assert unproven.ok and unproven.signature == "not_checked"
    assert not unproven.origin_proven and unproven.assurance == "integrity_only"
    assert "cannot prove origin" in format_report(unproven, "b.zip")
    report = verify_bundle(tampered, key=KEY)  # ... with the key, it fails
    assert report.signature == "invalid"
    assert [p.split(":")[0] for p in report.problems] == [MANIFEST_HMAC]


def test_stripped_signature_is_caught_when_the_key_is_known():
    bundle = make_bundle(key=KEY)
    stripped = rewrite(bundle.content, drop={MANIFEST_HMAC})
    assert verify_bundle(stripped, key=KEY).signature == "missing"
    assert not verify_bundle(stripped, require_signature=True).ok
    # the manifest says it was signed: a stripped signature is caught even without the key
    report = verify_bundle(stripped)
    assert report.signature == "missing"
    assert [p.split(":")[0] for p in report.problems] == [MANIFEST_HMAC]
    assert "says the bundle was signed" in report.problems[0]


def test_wrong_key_fails_and_no_key_is_reported():
    bundle = make_bundle(key=KEY)
    assert not verify_bundle(bundle.content, key=b"another-key").ok
    report = verify_bundle(bundle.content)
    assert report.ok and report.signature == "not_checked" and not report.origin_proven
    assert "not checked" in format_report(report, "b.zip")
    proven = verify_bundle(bundle.content, key=KEY)
    assert proven.origin_proven and proven.assurance == "signed"
    assert "RESULT: OK - no change detected, origin proven" in format_report(proven, "b.zip")


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 broken", b"plain text"])
def test_not_a_zip(data):
    report = verify_bundle(data)
    assert not report.ok and "not a readable ZIP" in report.problems[0]
    assert not report.origin_proven and report.assurance == "none"


def test_missing_manifest_and_bad_json():
    bundle = make_bundle()
    assert verify_bundle(rewrite(bundle.content, drop={MANIFEST})).problems == [
        "manifest.json: missing"]
    report = verify_bundle(rewrite(bundle.content, replace={MANIFEST: b"{not json"}))
    assert any("changed" in p for p in report.problems)
    assert any("not valid JSON" in p for p in report.problems)


def _cli(tmp_path, content: bytes, key: str | None = None, **flags) -> tuple[int, str]:
    path = tmp_path / "bundle.zip"
    path.write_bytes(content)
    settings = SimpleNamespace(evidence=SimpleNamespace(hmac_key=key),
                               database=SimpleNamespace(url=None))
    args = SimpleNamespace(bundle=path, require_signature=False, check_db=False, json=False)
    for k, v in flags.items():
        setattr(args, k, v)
    return verify_command(settings, args), str(path)


def test_cli_exit_codes(tmp_path, capsys):
    bundle = make_bundle(key=KEY)
    code, _ = _cli(tmp_path, bundle.content, key=KEY.decode())
    out = capsys.readouterr().out
    assert code == 0 and "RESULT: OK" in out and "HMAC-SHA256 valid" in out
    name = snapshot_name(bundle.content)
    code, _ = _cli(tmp_path, rewrite(bundle.content, drop={name}), key=KEY.decode())
    out = capsys.readouterr().out
    assert code == 1 and "RESULT: TAMPERED" in out and f"{name}: missing" in out
    code, _ = _cli(tmp_path, bundle.content, json=True)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["signature"] == "not_checked"
    assert report["origin_proven"] is False and report["assurance"] == "integrity_only"
    assert "cannot prove origin" in report["origin"]
    assert report["bundle_sha256"] == bundle.bundle_sha256
    settings = SimpleNamespace(evidence=None, database=SimpleNamespace(url=None))
    args = SimpleNamespace(bundle=tmp_path / "nope.zip", require_signature=False,
                           check_db=False, json=False)
    assert verify_command(settings, args) == 2
    code, _ = _cli(tmp_path, bundle.content, check_db=True)
    assert code == 2 and "IOC_DATABASE_URL" in capsys.readouterr().err


def test_cli_parser_has_the_subcommand(tmp_path, capsys):
    from ioc.cli import build_parser

    args = build_parser().parse_args(["evidence", "verify", str(tmp_path / "x.zip"), "--json"])
    assert args.func.__name__ == "cmd_evidence_verify" and args.json


def test_ioc_command_end_to_end(tmp_path, capsys, monkeypatch):
    from ioc.cli import main

    monkeypatch.chdir(tmp_path)
    bundle = make_bundle()
    good = tmp_path / "good.zip"
    good.write_bytes(bundle.content)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(bundle.content, add={"note.txt": b"x"}))
    assert main(["evidence", "verify", str(good)]) == 0
    assert main(["evidence", "verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "note.txt: added" in out and bundle.manifest_sha256 in out


def test_with_a_key_configured_a_bundle_forged_without_it_fails(tmp_path, capsys):
    """A forger without the key rewrites the manifest, re-hashes it and drops the signature
    (also its mention in the manifest): alone it is consistent, but a verifier holding the
    key refuses it; without the key it is reported as unsigned, never as proven."""
    bundle = make_bundle(key=KEY)

    def forge(m):
        m["incident"].update(device_id="cam-other")
        m["signature"] = None

    edited = _edit_manifest(bundle.content, forge)
    forged = rewrite(bundle.content, drop={MANIFEST_HMAC}, replace={
        MANIFEST: edited, MANIFEST_HASH: f"{sha256_hex(edited)}  manifest.json\n".encode()})
    code, _ = _cli(tmp_path, forged, key=KEY.decode())
    out = capsys.readouterr().out
    assert code == 1 and "RESULT: TAMPERED" in out and "manifest.hmac: missing" in out
    fake_key = b"forger-own-key-0123456789"
    resigned = make_bundle(key=fake_key)  # signed, but under another key
    code, _ = _cli(tmp_path, resigned.content, key=KEY.decode(), json=True)
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["signature"] == "invalid" and not doc["origin_proven"]
    code, _ = _cli(tmp_path, forged)
    out = capsys.readouterr().out
    assert code == 0 and "integrity only: not signed, cannot prove origin" in out
    assert "origin proven" not in out
