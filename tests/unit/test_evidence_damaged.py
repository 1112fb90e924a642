"""A damaged bundle file (a flipped byte on disk, a cut-off download) is reported as tampered,
with the reason, and never crashes `ioc evidence verify` -- in text and in --json."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from types import SimpleNamespace

import pytest

from evidence.bundle import MANIFEST, MANIFEST_HASH, MANIFEST_SIG
from evidence.cli import verify_command
from evidence.verify import verify_bundle
from tests.unit.test_evidence_bundle import KEY, PUBLIC, make_bundle, snapshot_name


def data_span(content: bytes, name: str) -> tuple[int, int]:
    """Where the (compressed) bytes of entry `name` are in the ZIP file."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(name)
    offset = info.header_offset
    name_len, extra_len = struct.unpack("<HH", content[offset + 26:offset + 30])
    start = offset + 30 + name_len + extra_len
    return start, start + info.compress_size


def flipped(content: bytes, position: int, mask: int = 0x01) -> bytes:
    data = bytearray(content)
    data[position] ^= mask
    return bytes(data)


def run_cli(tmp_path, content: bytes, *, key=None, as_json: bool = False):
    path = tmp_path / "bundle.zip"
    path.write_bytes(content)
    settings = SimpleNamespace(evidence=SimpleNamespace(signing_key_file=None),
                               database=SimpleNamespace(url=None))
    key_file = None
    if key is not None:
        key_file = tmp_path / "public.pem"
        key_file.write_text(key.public.pem())
    args = SimpleNamespace(bundle=path, public_key=key_file, allow_unsigned=False,
                           check_db=False, json=as_json)
    return verify_command(settings, args)


def test_flipped_byte_in_a_stored_snapshot_on_disk(tmp_path, capsys):
    """The byte is flipped in the file itself: the entry fails its CRC-32 (BadZipFile)."""
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    start, end = data_span(bundle.content, name)
    damaged = flipped(bundle.content, (start + end) // 2)
    with pytest.raises(zipfile.BadZipFile, match="CRC"):  # what used to escape
        zipfile.ZipFile(io.BytesIO(damaged)).read(name)
    report = verify_bundle(damaged)
    assert not report.ok
    assert [p.split(":")[0] for p in report.problems] == [name]
    assert "damaged in the archive" in report.problems[0] and "CRC" in report.problems[0]
    assert report.files_ok == report.files_listed - 1

    assert run_cli(tmp_path, damaged) == 1
    out = capsys.readouterr().out
    assert "RESULT: TAMPERED" in out and f"{name}: damaged in the archive" in out
    assert run_cli(tmp_path, damaged, as_json=True) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["origin_proven"] is False
    assert doc["problems"][0].startswith(f"{name}: damaged")


def test_flipped_byte_in_the_compressed_manifest_on_disk(tmp_path, capsys):
    bundle = make_bundle(key=KEY)
    start, end = data_span(bundle.content, MANIFEST)
    damaged = flipped(bundle.content, start + 10, 0xFF)
    report = verify_bundle(damaged, public_key=PUBLIC)
    assert not report.ok and report.problems[0].startswith(f"{MANIFEST}: damaged")
    assert run_cli(tmp_path, damaged, key=KEY, as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


@pytest.mark.parametrize("name", [MANIFEST_HASH, MANIFEST_SIG, "README.txt"])
def test_flipped_byte_in_a_small_entry(name):
    bundle = make_bundle(key=KEY)
    start, end = data_span(bundle.content, name)
    damaged = flipped(bundle.content, start + 1)
    for key in (PUBLIC, None):
        report = verify_bundle(damaged, public_key=key)
        assert not report.ok, (name, key)
        assert any(p.startswith(f"{name}:") for p in report.problems), report.problems


def test_every_single_flipped_byte_is_handled():
    """Whatever byte of the file flips, verify answers (never raises) and the file's SHA-256
    (compared with the recorded one by --check-db) changes. A flip inside an entry's data is
    a problem on its own -- except in the last byte of a deflate stream, whose padding bits
    carry nothing, and in header fields zipfile does not use (dates, the local header's copy
    of the sizes): those only the whole-file hash sees."""
    bundle = make_bundle(key=KEY)
    zf = zipfile.ZipFile(io.BytesIO(bundle.content))
    spans = []
    for info in zf.infolist():
        start, end = data_span(bundle.content, info.filename)
        spans.append((start, end - 1 if info.compress_type == zipfile.ZIP_DEFLATED else end))
    for position in range(len(bundle.content)):
        report = verify_bundle(flipped(bundle.content, position, 0x55), public_key=PUBLIC)
        assert report.bundle_sha256 != bundle.bundle_sha256
        if any(start <= position < end for start, end in spans):
            assert not report.ok, position


@pytest.mark.parametrize("keep", [0, 1, 22, 0.25, 0.5, 0.9, -1, -10, -22, -23])
def test_truncated_file(tmp_path, capsys, keep):
    bundle = make_bundle()
    size = len(bundle.content)
    cut = int(size * keep) if isinstance(keep, float) else (keep if keep >= 0 else size + keep)
    truncated = bundle.content[:cut]
    report = verify_bundle(truncated)
    assert not report.ok and report.problems
    assert report.bundle_size == cut
    assert run_cli(tmp_path, truncated) == 1
    assert "RESULT: TAMPERED" in capsys.readouterr().out
    assert run_cli(tmp_path, truncated, as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def _patch_central_directory(content: bytes, name: str, offset: int, value: int) -> bytes:
    """Set a 2-byte field of `name`'s central directory record (8: flags, 10: method)."""
    record = content.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack("<H", content[record + 28:record + 30])[0]
        if content[record + 46:record + 46 + name_len] == name.encode():
            break
        record = content.index(b"PK\x01\x02", record + 4)
    data = bytearray(content)
    data[record + offset:record + offset + 2] = struct.pack("<H", value)
    return bytes(data)


def test_entry_marked_encrypted_or_with_unknown_compression():
    bundle = make_bundle()
    name = snapshot_name(bundle.content)
    encrypted = _patch_central_directory(bundle.content, name, 8, 0x0001)
    report = verify_bundle(encrypted)
    assert [p.split(":")[0] for p in report.problems] == [name]
    assert "RuntimeError" in report.problems[0]
    unknown = _patch_central_directory(bundle.content, name, 10, 99)
    report = verify_bundle(unknown)
    assert [p.split(":")[0] for p in report.problems] == [name]
    assert "NotImplementedError" in report.problems[0]


def test_unreadable_archive_in_the_cli(tmp_path, capsys):
    assert run_cli(tmp_path, b"PK\x05\x06" + b"\xff" * 18, as_json=True) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "not a readable ZIP archive" in doc["problems"][0]


def test_unreadable_file_object():
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def seekable(self):
            return True

        def seek(self, offset, whence=0):
            return 0

        def readinto(self, b):
            raise OSError("I/O error on the USB stick")

    report = verify_bundle(Broken())
    assert not report.ok and "I/O error" in report.problems[0]
