"""Evidence bundles: a built bundle verifies; any change to it is detected and named; only
the deployment's Ed25519 key proves where a bundle comes from."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from evidence.bundle import (
    MANIFEST,
    MANIFEST_HASH,
    MANIFEST_SIG,
    BundleFile,
    build_bundle,
    sha256_hex,
    snapshot_path,
)
from evidence.cli import EXIT_NOT_PROVEN, verify_command
from evidence.signing import SigningKey
from evidence.verify import format_report, verify_bundle

KEY = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
FORGER = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
PUBLIC = KEY.public
WHEN = dt.datetime(2025, 6, 1, 1, 5, tzinfo=dt.UTC)


def jpeg(colour: tuple[int, int, int], size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def make_bundle(key: SigningKey | None = None):
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
                        bundle_id="b-1", created_at=WHEN, created_by="cong-an-1", signing_key=key)


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
    assert "RESULT: NOT PROVEN - no change detected, but integrity only" in text
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


def resign(content: bytes, manifest: bytes, key: SigningKey | None = None,
           **changes) -> bytes:
    """The forger's bundle: a new manifest, its recomputed hash, and (with a key of their
    own) a signature that matches it."""
    replace = {MANIFEST: manifest, MANIFEST_HASH: f"{sha256_hex(manifest)}  manifest.json\n"
               .encode(), **changes}
    if key is not None:
        replace[MANIFEST_SIG] = (key.sign(manifest) + "\n").encode()
    return rewrite(content, replace=replace)


def test_signed_bundle_proves_its_origin_with_the_public_key_alone():
    bundle = make_bundle(key=KEY)
    assert bundle.signed and bundle.key_id == PUBLIC.key_id
    assert MANIFEST_SIG in names(bundle.content)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read(MANIFEST))
    assert manifest["signature"] == {"algorithm": "ed25519", "key_id": PUBLIC.key_id}
    readme = zipfile.ZipFile(io.BytesIO(bundle.content)).read("README.txt").decode()
    assert PUBLIC.key_id in readme and PUBLIC.pem() in readme
    report = verify_bundle(bundle.content, public_key=PUBLIC)
    assert report.ok and report.signature == "valid" and report.origin_proven
    assert report.assurance == "signed"
    assert "RESULT: OK - no change detected, origin proven" in format_report(report, "b.zip")


def test_manifest_rewritten_with_recomputed_hashes_is_caught_by_the_signature():
    """Swap a picture, fix its entry in the manifest and the manifest's hash: every hash
    matches, the signature does not -- with the trusted key or with the bundle's own."""
    bundle = make_bundle(key=KEY)
    name = snapshot_name(bundle.content)
    fake = jpeg((0, 0, 0))

    def swap(m):
        for f in m["files"]:
            if f["path"] == name:
                f.update(sha256=sha256_hex(fake), size=len(fake))

    tampered = resign(bundle.content, _edit_manifest(bundle.content, swap), **{name: fake})
    for public_key in (PUBLIC, None):
        report = verify_bundle(tampered, public_key=public_key)
        assert report.signature == "invalid" and not report.origin_proven
        assert [p.split(":")[0] for p in report.problems] == [MANIFEST_SIG]
        assert "the manifest was changed after it was signed" in report.problems[0]


def test_re_signed_by_a_forger_is_an_unknown_key():
    """The forger re-signs with a key of their own and puts it in the README: the bundle is
    consistent, but the trusted key did not sign it."""
    forged = make_bundle(key=FORGER)
    report = verify_bundle(forged.content, public_key=PUBLIC)
    assert report.ok and report.signature == "unknown_key" and not report.origin_proven
    assert f"not by the trusted key {PUBLIC.key_id}" in report.origin
    assert "RESULT: NOT PROVEN" in format_report(report, "b.zip")
    alone = verify_bundle(forged.content)  # no trusted key at all
    assert alone.signature == "unknown_key" and "no trusted public key" in alone.origin


def test_stripped_signature_is_caught():
    bundle = make_bundle(key=KEY)
    stripped = rewrite(bundle.content, drop={MANIFEST_SIG})
    report = verify_bundle(stripped, public_key=PUBLIC)
    assert report.signature == "missing"
    assert [p.split(":")[0] for p in report.problems] == [MANIFEST_SIG]
    assert "says the bundle was signed" in report.problems[0]
    # ... and stripped from the manifest too: consistent, but unsigned -- never proven
    edited = _edit_manifest(bundle.content, lambda m: m.update(signature=None))
    unsigned = verify_bundle(resign(stripped, edited), public_key=PUBLIC)
    assert unsigned.ok and unsigned.signature == "none" and not unsigned.origin_proven


def test_signature_of_another_manifest_is_invalid():
    a, b = make_bundle(key=KEY), make_bundle(key=KEY)
    other = _edit_manifest(b.content, lambda m: m.update(bundle_id="b-2"))
    sig_of_other = (KEY.sign(other) + "\n").encode()
    report = verify_bundle(rewrite(a.content, replace={MANIFEST_SIG: sig_of_other}),
                           public_key=PUBLIC)
    assert report.signature == "invalid"
    assert [p.split(":")[0] for p in report.problems] == [MANIFEST_SIG]


def test_renamed_file_is_detected():
    bundle = make_bundle(key=KEY)
    name = snapshot_name(bundle.content)
    data = zipfile.ZipFile(io.BytesIO(bundle.content)).read(name)
    renamed = rewrite(bundle.content, drop={name}, add={"snapshots/renamed.jpg": data})
    report = verify_bundle(renamed, public_key=PUBLIC)
    assert report.problems == [f"{name}: missing (listed in the manifest)",
                               "snapshots/renamed.jpg: added (not listed in the manifest)"]


def test_format_1_hmac_bundle_is_read_but_not_proven():
    """Bundles exported before Ed25519 (format 1, manifest.hmac) still verify for integrity."""
    bundle = make_bundle()
    old = _edit_manifest(bundle.content, lambda m: m.update(
        format="ioc-evidence-bundle/1", signature="hmac-sha256"))
    legacy = resign(bundle.content, old, **{"manifest.hmac": b"hmac-sha256:00\n"})
    report = verify_bundle(legacy, public_key=PUBLIC)
    assert report.ok and report.signature == "legacy_hmac" and not report.origin_proven
    assert "retired HMAC" in report.origin


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


def _cli(tmp_path, content: bytes, public_key=None, **flags) -> tuple[int, str]:
    path = tmp_path / "bundle.zip"
    path.write_bytes(content)
    settings = SimpleNamespace(evidence=SimpleNamespace(signing_key_file=None),
                               database=SimpleNamespace(url=None))
    args = SimpleNamespace(bundle=path, public_key=None, allow_unsigned=False, check_db=False,
                           json=False)
    if public_key is not None:
        key_file = tmp_path / "public.pem"
        key_file.write_text(public_key.pem())
        args.public_key = key_file
    for k, v in flags.items():
        setattr(args, k, v)
    return verify_command(settings, args), str(path)


def test_cli_exit_codes(tmp_path, capsys):
    bundle = make_bundle(key=KEY)
    code, _ = _cli(tmp_path, bundle.content, public_key=PUBLIC)
    out = capsys.readouterr().out
    assert code == 0 and "RESULT: OK" in out and "Ed25519 valid" in out
    name = snapshot_name(bundle.content)
    code, _ = _cli(tmp_path, rewrite(bundle.content, drop={name}), public_key=PUBLIC)
    out = capsys.readouterr().out
    assert code == 1 and "RESULT: TAMPERED" in out and f"{name}: missing" in out
    # no trusted key: intact, signed by a key nobody vouched for -> not proven, exit 3
    code, _ = _cli(tmp_path, bundle.content, json=True)
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_NOT_PROVEN == 3
    assert report["ok"] and report["signature"] == "unknown_key"
    assert report["origin_proven"] is False and report["key_id"] == PUBLIC.key_id
    assert report["bundle_sha256"] == bundle.bundle_sha256
    # unsigned: exit 3, or 0 when told --allow-unsigned
    unsigned = make_bundle()
    assert _cli(tmp_path, unsigned.content, public_key=PUBLIC)[0] == 3
    assert "RESULT: NOT PROVEN" in capsys.readouterr().out
    assert _cli(tmp_path, unsigned.content, public_key=PUBLIC, allow_unsigned=True)[0] == 0
    assert "cannot prove origin" in capsys.readouterr().out
    # another key's bundle
    assert _cli(tmp_path, make_bundle(key=FORGER).content, public_key=PUBLIC)[0] == 3
    settings = SimpleNamespace(evidence=None, database=SimpleNamespace(url=None))
    args = SimpleNamespace(bundle=tmp_path / "nope.zip", public_key=None, allow_unsigned=False,
                           check_db=False, json=False)
    assert verify_command(settings, args) == 2
    code, _ = _cli(tmp_path, bundle.content, check_db=True)
    assert code == 2 and "IOC_DATABASE_URL" in capsys.readouterr().err
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("not a key")
    code, _ = _cli(tmp_path, bundle.content, public_key=None)
    args = SimpleNamespace(bundle=tmp_path / "bundle.zip", public_key=bad_key,
                           allow_unsigned=False, check_db=False, json=False)
    assert verify_command(settings, args) == 2
    assert "not a PEM public key" in capsys.readouterr().err


def test_cli_parser_has_the_subcommands(tmp_path, capsys):
    from ioc.cli import build_parser

    args = build_parser().parse_args(["evidence", "verify", str(tmp_path / "x.zip"), "--json",
                                      "--public-key", "k.pem", "--allow-unsigned"])
    assert args.func.__name__ == "cmd_evidence_verify" and args.json and args.allow_unsigned
    assert build_parser().parse_args(["audit", "verify"]).func is not None
    assert build_parser().parse_args(["evidence", "keygen", "k.pem"]).func is not None


def test_ioc_command_end_to_end(tmp_path, capsys, monkeypatch):
    from ioc.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IOC_EVIDENCE_SIGNING_KEY_FILE", raising=False)
    assert main(["evidence", "keygen", str(tmp_path / "key.pem")]) == 0
    public_pem = capsys.readouterr().out
    (tmp_path / "public.pem").write_text(public_pem)
    assert oct((tmp_path / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert main(["evidence", "keygen", str(tmp_path / "key.pem")]) == 2  # never overwrites
    from evidence.signing import load_signing_key

    key = load_signing_key(tmp_path / "key.pem")
    bundle = make_bundle(key=key)
    good = tmp_path / "good.zip"
    good.write_bytes(bundle.content)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(bundle.content, add={"note.txt": b"x"}))
    assert main(["evidence", "verify", str(good), "--public-key", "public.pem"]) == 0
    assert main(["evidence", "verify", str(bad), "--public-key", "public.pem"]) == 1
    out = capsys.readouterr().out
    assert "note.txt: added" in out and bundle.manifest_sha256 in out
    assert main(["evidence", "verify", str(good)]) == 3  # no trusted key given
    capsys.readouterr()
    assert main(["evidence", "public-key", "--key", "key.pem"]) == 0
    assert capsys.readouterr().out.strip() == public_pem.strip()
