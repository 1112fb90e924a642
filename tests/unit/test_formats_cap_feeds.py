"""CAP 1.2 from real national feeds: every message valid by the CAP 1.2 schema is accepted,
every other one refused with a reason, and no nesting raises anything but PayloadError.

The verdicts below were established file by file: each was validated against
docs/schemas/cap-1.2.xsd by two validators (xmlschema, and libxml2 through lxml, which agree)
and read. The shared corpus (`../shared/corpora/cap/` next to the repository) is optional;
the small samples in tests/unit/cap_samples/ always run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.formats import parse
from ingest.formats.cap import MAX_DEPTH, decode_xml, xml_encoding
from ingest.records import CapAlert, PayloadError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
# ../shared/corpora/cap beside the repository (a worktree under wt/ looks one level higher too),
# or wherever IOC_CAP_CORPUS says.
CORPUS = next(
    (p for p in (Path(os.environ.get("IOC_CAP_CORPUS", "/nonexistent")),
                 REPO.parent / "shared" / "corpora" / "cap",
                 REPO.parent.parent / "shared" / "corpora" / "cap") if p.is_dir()),
    REPO.parent / "shared" / "corpora" / "cap")
SAMPLES = Path(__file__).with_name("cap_samples")
ACCEPT = None
FUZZ = settings(max_examples=int(os.environ.get("IOC_FUZZ_EXAMPLES", "60")), deadline=None,
                database=None, suppress_health_check=[HealthCheck.too_slow])

# file -> None (accepted) or the start of the reason it is refused with
CORPUS_VERDICTS: dict[str, str | None] = {
    # Canada's NAAD system: XML signature with Id="NAADS Signature" (not an NCName, but the
    # CAP schema does not validate inside its lax xmldsig wildcard), empty <references />.
    "CanadaNaad.xml": ACCEPT,
    "canada_signed.cap": ACCEPT,  # signed, empty <restriction/>, <addresses/>, <note/>
    "canada.cap": ACCEPT,
    "NOAA_MultiplePolygons.txt": ACCEPT,  # eight references, several polygons
    "australia.cap": ACCEPT,
    "australia_bom.cap": ACCEPT,
    "earthquake-iso8859-1.cap": ACCEPT,  # declares ISO-8859-1, has accented letters, signed
    "iceland_met_office.cap": ACCEPT,
    "mexico.xml": ACCEPT,
    "no_info_tag.cap": ACCEPT,  # a Cancel without <info>, signature with a prefixed tag
    "ph.cap": ACCEPT,
    "taiwan.cap": ACCEPT,
    "wcatwc-warning.cap": ACCEPT,
    # not CAP 1.2
    "earthquake.cap": "root element is '{urn:oasis:names:tc:emergency:cap:1.1}alert'",
    "invalid_xmlns.cap": "root element is '{urn:oasis:names:tc:emergency:alerts:1.2}alert'",
    # <area> holds a <Type> element CAP does not have (and <senderName> out of order)
    "sweden.cap": "CAP schema: /alert/info/area[1]: Unexpected child with tag 'Type'",
}

SAMPLE_VERDICTS: dict[str, str | None] = {
    "signed-naads-id.xml": ACCEPT,
    "empty-references.xml": ACCEPT,
    "iso-8859-1.xml": ACCEPT,
    "utf-16-bom.xml": ACCEPT,
    "cap-1.1-namespace.xml": "root element is '{urn:oasis:names:tc:emergency:cap:1.1}alert'",
    "element-out-of-order.xml": "CAP schema: /alert/info: Unexpected child with tag 'event'",
    "declared-utf-8-but-latin-1.xml": "payload is not valid UTF-8 (byte 0xe9",
}


def verdict(payload: bytes) -> CapAlert | str:
    try:
        # a large size limit: the deeply nested documents below are bigger than the default
        (alert,) = parse("ioc/v1/cap", payload, now=NOW, max_payload_bytes=1 << 20).records
    except PayloadError as err:
        return str(err)
    assert isinstance(alert, CapAlert)
    return alert


def check(path: Path, expected: str | None) -> None:
    got = verdict(path.read_bytes())
    if expected is ACCEPT:
        assert isinstance(got, CapAlert), f"{path.name} refused: {got}"
        assert got.identifier and got.sender
    else:
        assert isinstance(got, str), f"{path.name} accepted, expected: {expected}"
        assert got.startswith(expected), got


def corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"CAP corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", corpus_files() or ["(no corpus)"])
def test_corpus_file(name):
    assert name in CORPUS_VERDICTS, f"{name}: new corpus file, establish its verdict first"
    check(CORPUS / name, CORPUS_VERDICTS[name])


@pytest.mark.parametrize("name", sorted(SAMPLE_VERDICTS))
def test_sample_file(name):
    check(SAMPLES / name, SAMPLE_VERDICTS[name])


def test_every_sample_has_a_verdict():
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(SAMPLE_VERDICTS)


def test_latin_1_text_is_decoded_as_declared():
    alert = verdict((SAMPLES / "iso-8859-1.xml").read_bytes())
    assert alert.info[0]["event"] == "Séisme"
    assert alert.info[0]["area"][0]["areaDesc"] == "Région côtière"
    assert "Séisme" in alert.xml


def test_empty_references_are_no_references():
    assert verdict((SAMPLES / "empty-references.xml").read_bytes()).references == ()


@pytest.mark.parametrize(("payload", "encoding"), [
    (b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "ISO-8859-1"),
    (b"<?xml version='1.0' encoding='windows-1252' standalone='yes'?><a/>", "windows-1252"),
    (b'<?xml version="1.0"?><a/>', "utf-8"),
    (b"<a/>", "utf-8"),
    ("<?xml version='1.0'?><a/>".encode("utf-16-le"), "utf-16-le"),
    (b"\xef\xbb\xbf<a/>", "utf-8-sig"),
    (b"\xff\xfe<\x00a\x00/\x00>\x00", "utf-16"),
])
def test_xml_encoding(payload, encoding):
    assert xml_encoding(payload) == encoding
    assert decode_xml(payload).endswith("<a/>")


@pytest.mark.parametrize(("payload", "reason"), [
    (b'<?xml version="1.0" encoding="x-no-such"?><a/>', "XML declares an unknown encoding"),
    (b'<?xml version="1.0" encoding="rot13"?><a/>', "which is not a text encoding"),
    (b'<?xml version="1.0" encoding="utf-16"?><a/>', "payload is not valid utf-16"),
])
def test_bad_encodings_are_refused(payload, reason):
    assert reason in verdict(payload)


# --- nesting: inside <Signature> and inside every free-form element ----------------------------

DSIG = "http://www.w3.org/2000/09/xmldsig#"


def alert_with(*, alert_extra: str = "", info_extra: str = "", area_extra: str = "",
               tail: str = "") -> bytes:
    return (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>LC-1</identifier>'
        "<sender>pctt@laocai.gov.vn</sender><sent>2025-06-01T09:30:00+07:00</sent>"
        f"<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>{alert_extra}"
        "<info><category>Geo</category><event>Lũ</event><urgency>Expected</urgency>"
        f"<severity>Severe</severity><certainty>Likely</certainty>{info_extra}"
        f"<area><areaDesc>Bát Xát</areaDesc>{area_extra}</area></info>{tail}</alert>"
    ).encode()


def nested(depth: int, tag: str = "X", ns: str | None = None) -> str:
    open_ = f'<{tag} xmlns="{ns}">' if ns else f"<{tag}>"
    return open_ + f"<{tag}>" * (depth - 1) + f"</{tag}>" * depth


def signature(depth: int, tag: str = "Object") -> str:
    return f'<Signature xmlns="{DSIG}" Id="NAADS Signature">{nested(depth, tag)}</Signature>'


def test_signature_nested_within_the_limit_is_accepted():
    # alert (1) / Signature (2) / MAX_DEPTH - 2 levels of content
    alert = verdict(alert_with(tail=signature(MAX_DEPTH - 2)))
    assert isinstance(alert, CapAlert), alert


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, 1000, 5000, 50_000])
def test_signature_nested_too_deep_is_refused_with_a_reason(depth):
    got = verdict(alert_with(tail=signature(depth)))
    assert got == f"XML nested deeper than {MAX_DEPTH} levels (inside 'Signature')"


# Free-form (text) elements of CAP, where a child element is never allowed.
FREE_FORM = {
    "alert": ["source", "restriction", "addresses", "code", "note", "references", "incidents"],
    "info": ["audience", "senderName", "headline", "description", "instruction", "contact",
             "web"],
    "area": ["polygon", "circle", "altitude"],
}
SLOTS = [(where, name) for where, names in FREE_FORM.items() for name in names]


def with_nesting(where: str, name: str, depth: int, child: str, ns: str | None) -> bytes:
    element = f"<{name}>text{nested(depth, child, ns)}</{name}>"
    if where == "alert":
        # before <info>, where these elements belong (the schema's order)
        return alert_with(alert_extra=element)
    if where == "info":
        return alert_with(info_extra=element)
    return alert_with(area_extra=element)


@FUZZ
@given(st.sampled_from(SLOTS), st.integers(1, 3000), st.sampled_from(["X", "info", "value"]),
       st.sampled_from([None, DSIG, "urn:x"]))
def test_nesting_in_free_form_elements_is_only_ever_refused(slot, depth, child, ns):
    got = verdict(with_nesting(*slot, depth, child, ns))
    assert isinstance(got, str)  # a child element is never valid in a text element
    if depth + 3 > MAX_DEPTH:
        assert got.startswith(f"XML nested deeper than {MAX_DEPTH} levels"), got


@FUZZ
@given(st.integers(1, 3000), st.sampled_from(["Object", "KeyInfo", "X509Data", "Signature"]),
       st.sampled_from([None, DSIG, "urn:x", "urn:oasis:names:tc:emergency:cap:1.2"]),
       st.booleans())
def test_nesting_in_signature_is_accepted_or_refused_never_raised(depth, tag, ns, text):
    inner = nested(depth, tag, ns)
    if text:
        inner = f"a{inner}b"
    got = verdict(alert_with(tail=f'<Signature xmlns="{DSIG}">{inner}</Signature>'))
    if depth + 2 > MAX_DEPTH:
        assert got == f"XML nested deeper than {MAX_DEPTH} levels (inside 'Signature')"
    elif ns in (None, DSIG, "urn:x"):
        # lax wildcard, no declaration for these: their content is not validated
        assert isinstance(got, CapAlert), got
