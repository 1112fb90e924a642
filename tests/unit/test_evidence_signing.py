"""The deployment's signing key: made once, loaded, refused when wrong; the web app refuses
to start in production without one; a bundle checks by hand with OpenSSL and the public key."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import zipfile

import pytest

from dashboards.wsgi import check_signing_key
from evidence.signing import (
    SigningKeyError,
    ensure_key_file,
    generate_key_file,
    load_signing_key,
    public_key_from_pem,
    read_public_key,
)
from ioc.config import Settings
from tests.unit.test_evidence_bundle import make_bundle


def test_key_file_round_trip(tmp_path):
    path = tmp_path / "k" / "key.pem"
    key = generate_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_signing_key(path).public == key.public
    assert read_public_key(path) == key.public  # the private key file gives its public half
    (tmp_path / "pub.pem").write_text(key.public.pem())
    assert read_public_key(tmp_path / "pub.pem") == key.public
    assert key.public.key_id.startswith("sha256:") and len(key.public.key_id) == 7 + 64
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    assert ensure_key_file(path).public == key.public  # kept, not replaced
    signature = key.sign(b"data")
    assert key.public.verify(signature, b"data")
    assert not key.public.verify(signature, b"date")
    assert not key.public.verify("not base64!", b"data")
    assert not key.public.verify(base64.b64encode(b"short").decode(), b"data")


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot read the key file"),
    (b"garbage", "not an unencrypted PEM private key"),
    (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not an unencrypted"),
])
def test_bad_key_files_are_refused_with_the_file_named(tmp_path, content, reason):
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SigningKeyError, match=reason) as err:
        load_signing_key(path)
    assert str(path) in str(err.value)


def test_an_rsa_key_is_not_an_ed25519_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    with pytest.raises(SigningKeyError, match="not an Ed25519 private key"):
        load_signing_key(path)
    with pytest.raises(SigningKeyError, match="not an Ed25519 public key"):
        public_key_from_pem(rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_production_web_refuses_to_start_without_a_key(tmp_path, capsys):
    production = Settings(env="production", database={"url": "postgresql://x/y"},
                          mqtt={"url": "mqtt://h:1"}, redis={"url": "redis://h:2/0"},
                          web={"secret_key": "s" * 32})
    with pytest.raises(SystemExit) as stop:
        check_signing_key(production)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "IOC_EVIDENCE_SIGNING_KEY_FILE" in err
    # a configured but unreadable key stops every environment, also in one line
    broken = Settings(env="demo", evidence={"signing_key_file": tmp_path / "missing.pem"})
    with pytest.raises(SystemExit):
        check_signing_key(broken)
    assert "missing.pem: cannot read the key file" in capsys.readouterr().err
    # with a key, production starts; without one, demo and test start (unsigned bundles)
    generate_key_file(tmp_path / "key.pem")
    check_signing_key(production.model_copy(update={"evidence": production.evidence.model_copy(
        update={"signing_key_file": tmp_path / "key.pem"})}))
    check_signing_key(Settings(env="test"))


def test_demo_makes_its_key_pair_once(tmp_path):
    from ioc.demo import demo_signing_key

    path = demo_signing_key(tmp_path)
    assert path == tmp_path / "evidence-signing-key.pem"
    public = read_public_key(tmp_path / "evidence-public-key.pem")
    assert public == load_signing_key(path).public
    assert demo_signing_key(tmp_path) == path and read_public_key(path) == public


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_readme_recipe_checks_the_signature_with_openssl(tmp_path):
    """A prosecutor without ioc: the published public key and OpenSSL 3, as README.txt says."""
    from tests.unit.test_evidence_bundle import KEY, rewrite

    bundle = make_bundle(key=KEY)
    (tmp_path / "public-key.pem").write_text(KEY.public.pem())

    def openssl_verifies(content: bytes) -> bool:
        zf = zipfile.ZipFile(io.BytesIO(content))
        (tmp_path / "manifest.json").write_bytes(zf.read("manifest.json"))
        (tmp_path / "manifest.sig.bin").write_bytes(base64.b64decode(zf.read("manifest.sig")))
        run = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public-key.pem", "-rawin",
             "-in", "manifest.json", "-sigfile", "manifest.sig.bin"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return run.returncode == 0 and "Signature Verified Successfully" in run.stdout

    assert openssl_verifies(bundle.content)
    edited = zipfile.ZipFile(io.BytesIO(bundle.content)).read("manifest.json").replace(
        b"cam-mk-coc-leu", b"cam-elsewhere")
    assert not openssl_verifies(rewrite(bundle.content, replace={"manifest.json": edited}))
    readme = zipfile.ZipFile(io.BytesIO(bundle.content)).read("README.txt").decode()
    assert "openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin" in readme
