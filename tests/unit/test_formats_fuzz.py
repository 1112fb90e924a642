"""Property-based tests: no input makes a parser raise anything but PayloadError, and generated
valid payloads round-trip into exactly the expected records."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.formats import FAMILY_METRICS, parse
from ingest.formats.senml import KNOWN_FIELDS
from ingest.records import CapAlert, DeviceStatus, Parsed, PayloadError, Reading

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
# IOC_FUZZ_EXAMPLES=5000 for a long run; no example database, so the tests write nothing.
FUZZ = settings(max_examples=int(os.environ.get("IOC_FUZZ_EXAMPLES", "150")), deadline=None,
                database=None, suppress_health_check=[HealthCheck.too_slow])
TOPICS = [
    "ioc/v1/environment/aq-1", "ioc/v1/disaster/wl-1", "ioc/v1/tourism/gate-1",
    "ioc/v1/camera/cam-1", "ioc/v1/senml/aq-1", "ioc/v1/status/aq-1", "ioc/v1/cap",
    "frigate/events", "frigate/reviews", "frigate/cam-1/car/snapshot", "frigate/available",
]
METRIC_NAMES = sorted({m for table in FAMILY_METRICS.values() for m in table})

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.sampled_from(["online", "offline", "new", "end", "fire", "aq-1", "cam-1"]))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


def parse_only_payload_errors(topic: str, payload: bytes) -> Parsed | None:
    try:
        parsed = parse(topic, payload, now=NOW)
    except PayloadError as exc:
        assert exc.reason and isinstance(exc.reason, str)
        return None
    assert isinstance(parsed, Parsed)
    return parsed


# --- arbitrary input ---------------------------------------------------------------------------

@FUZZ
@given(st.sampled_from(TOPICS), st.binary(max_size=300))
def test_arbitrary_bytes(topic, payload):
    parse_only_payload_errors(topic, payload)


@FUZZ
@given(st.text(max_size=60), st.binary(max_size=40))
def test_arbitrary_topics(topic, payload):
    parse_only_payload_errors(topic, payload)


@FUZZ
@given(st.sampled_from(TOPICS), json_values)
def test_arbitrary_json(topic, doc):
    parse_only_payload_errors(topic, json.dumps(doc).encode())


# --- near-valid structures, to get past the first checks ---------------------------------------

metric_maps = st.dictionaries(st.sampled_from(METRIC_NAMES) | st.text(max_size=6), json_values,
                              max_size=4)
event_objects = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=4) | json_values,
    "type": st.sampled_from(["fire", "crowd", "other", "x"]) | json_values,
    "phase": st.sampled_from(["new", "update", "end", "x"]) | json_values,
    "confidence": st.floats() | json_values, "zone": json_values, "plate": json_values,
    "snapshot": st.sampled_from(["sha256:" + "0" * 64, "https://x/y"]) | json_values,
    "label": json_values, "other": json_values,
})
times = (st.integers(0, 2**40) | st.floats() | st.datetimes().map(lambda d: d.isoformat() + "Z")
         | json_values)
own_json = st.fixed_dictionaries({}, optional={
    "device_id": st.sampled_from(["aq-1", "cam-1", "x"]) | json_values, "time": times,
    "seq": st.integers(-2, 2**70) | json_values, "metrics": metric_maps | json_values,
    "event": event_objects | json_values,
})


@FUZZ
@given(st.sampled_from(TOPICS[:4]), own_json)
def test_near_valid_own_json(topic, doc):
    parse_only_payload_errors(topic, json.dumps(doc).encode())


senml_records = st.dictionaries(
    st.sampled_from(sorted(KNOWN_FIELDS) + ["x_", "foo"]),
    st.integers(-2**31, 2**31) | st.floats() | st.text(alphabet="aq-1:pm25_/é ", max_size=12)
    | st.booleans() | json_values,
    max_size=6,
)


@FUZZ
@given(st.lists(senml_records, max_size=6))
def test_near_valid_senml(pack):
    parse_only_payload_errors("ioc/v1/senml/aq-1", json.dumps(pack).encode())


frigate_objects = st.fixed_dictionaries({}, optional={
    key: json_values | strategy for key, strategy in {
        "id": st.text(max_size=6), "camera": st.sampled_from(["cam-1", "bad cam"]),
        "label": st.text(max_size=6), "start_time": st.floats(1.6e9, 1.8e9),
        "end_time": st.floats(1.6e9, 1.8e9) | st.none(), "frame_time": st.floats(1.6e9, 1.8e9),
        "score": st.floats(-1, 2), "top_score": st.floats(0, 1), "false_positive": st.booleans(),
        "current_zones": st.lists(st.text(max_size=4)), "entered_zones": st.lists(json_values),
        "has_snapshot": st.booleans(), "recognized_license_plate": st.text(max_size=40),
        "recognized_license_plate_score": st.floats(0, 1), "severity": st.sampled_from(
            ["alert", "detection"]), "data": st.fixed_dictionaries({}, optional={
                "detections": st.lists(json_values), "objects": json_values}),
        "sub_label": st.tuples(st.text(max_size=3), st.floats()).map(list),
    }.items()
})


@FUZZ
@given(st.sampled_from(["frigate/events", "frigate/reviews"]),
       st.sampled_from(["new", "update", "end", "x"]) | json_values, frigate_objects)
def test_near_valid_frigate(topic, kind, after):
    parse_only_payload_errors(topic, json.dumps({"type": kind, "after": after}).encode())


@FUZZ
@given(st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b""]),
       st.binary(max_size=64), st.sampled_from(["cam-1/car", "cam-1/a b", "-c/car"]))
def test_snapshots(magic, body, where):
    parsed = parse_only_payload_errors(f"frigate/{where}/snapshot", magic + body)
    if parsed is not None:
        assert parsed.records[0].content == magic + body


# --- CAP: arbitrary text and mutations of a valid alert ----------------------------------------

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


def cap_alert(identifier="LC-1", sender="pctt@laocai.gov.vn", sent="2025-06-01T09:30:00+07:00",
              status="Actual", msg_type="Alert", scope="Public", extra="",
              categories=("Geo",)) -> str:
    cats = "".join(f"<category>{c}</category>" for c in categories)
    return (f'<alert xmlns="{CAP_NS}"><identifier>{identifier}</identifier>'
            f"<sender>{sender}</sender><sent>{sent}</sent><status>{status}</status>"
            f"<msgType>{msg_type}</msgType><scope>{scope}</scope>{extra}"
            f"<info>{cats}<event>Lũ</event><urgency>Expected</urgency>"
            "<severity>Severe</severity><certainty>Likely</certainty>"
            "<area><areaDesc>Bát Xát</areaDesc><polygon>22.6,103.7 22.7,103.7 22.7,103.8 "
            "22.6,103.7</polygon><circle>22.5,103.9 4</circle></area></info></alert>")


@FUZZ
@given(st.text(max_size=200))
def test_cap_arbitrary_text(text):
    parse_only_payload_errors("ioc/v1/cap", text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.randoms(use_true_random=False), st.text(max_size=30),
       st.sampled_from(["text", "delete", "insert", "truncate", "duplicate"]))
def test_cap_mutations(rng: random.Random, text: str, how: str):
    root = ET.fromstring(cap_alert())
    elements = list(root.iter())
    target = rng.choice(elements)
    if how == "text":
        target.text = text
    elif how == "delete":
        parent = next((p for p in elements if target in list(p)), None)
        if parent is not None:
            parent.remove(target)
    elif how == "insert":
        target.insert(0, ET.Element(f"{{{CAP_NS}}}{rng.choice(['x', 'info', 'area', 'value'])}"))
    elif how == "duplicate":
        parent = next((p for p in elements if target in list(p)), None)
        if parent is not None:
            parent.append(target)
    payload = ET.tostring(root, encoding="utf-8")
    if how == "truncate":
        payload = payload[: rng.randrange(len(payload))]
    parse_only_payload_errors("ioc/v1/cap", payload)


# --- generated valid payloads round-trip -------------------------------------------------------

offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
# Local wall-clock bounds: any offset keeps these within [2000-01-01, NOW] in UTC.
moments = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2025, 5, 31, 12),
                       timezones=offsets)


@st.composite
def family_payloads(draw):
    family = draw(st.sampled_from(sorted(FAMILY_METRICS)))
    table = FAMILY_METRICS[family]
    names = draw(st.lists(st.sampled_from(sorted(table)), min_size=1, unique=True))
    metrics = {}
    for name in names:
        spec = table[name]
        if spec.integer:
            metrics[name] = draw(st.integers(int(spec.minimum), int(spec.maximum)))
        else:
            metrics[name] = draw(st.floats(spec.minimum, spec.maximum, allow_nan=False))
    return family, metrics, draw(moments)


@FUZZ
@given(family_payloads(), st.booleans(), st.booleans())
def test_own_json_round_trip(payload, unix, with_device_id):
    family, metrics, moment = payload
    doc = {"metrics": metrics}
    doc["time"] = int(moment.timestamp()) if unix else moment.isoformat()
    if with_device_id:
        doc["device_id"] = "dev-1"
    parsed = parse(f"ioc/v1/{family}/dev-1", json.dumps(doc).encode(), now=NOW)
    t = moment.astimezone(UTC)
    if unix:
        t = t.replace(microsecond=0)
    assert parsed.records == tuple(
        Reading("dev-1", name, t, float(value), None, FAMILY_METRICS[family][name].unit)
        for name, value in metrics.items())


@st.composite
def senml_packs(draw):
    table = FAMILY_METRICS[draw(st.sampled_from(sorted(FAMILY_METRICS)))]
    base_time = draw(st.integers(1_000_000_000, 1_748_740_000))
    entries = draw(st.lists(st.tuples(st.sampled_from(sorted(table)), st.integers(-3600, 0)),
                            min_size=1, max_size=8, unique=True))
    pack, expected = [], []
    for i, (name, offset) in enumerate(entries):
        spec = table[name]
        value = (draw(st.integers(int(spec.minimum), int(spec.maximum))) if spec.integer
                 else draw(st.floats(spec.minimum, spec.maximum, allow_nan=False)))
        rec = {"n": name, "t": offset, "v": value}
        if draw(st.booleans()):
            rec["u"] = draw(st.sampled_from(spec.senml_units))
        if i == 0:
            rec.update(bn="dev-1:", bt=base_time)
        pack.append(rec)
        t = datetime.fromtimestamp(base_time + offset, UTC)
        expected.append(Reading("dev-1", name, t, float(value), None, spec.unit))
    return pack, sorted(expected, key=lambda r: r.time)


@FUZZ
@given(senml_packs())
def test_senml_round_trip(case):
    pack, expected = case
    assert parse("ioc/v1/senml/dev-1", json.dumps(pack).encode(), now=NOW).records == tuple(
        expected)


@FUZZ
@given(st.booleans(), st.none() | moments)
def test_status_round_trip(online, moment):
    state = "online" if online else "offline"
    payload = (state.encode() if moment is None else
               json.dumps({"status": state, "time": moment.isoformat()}).encode())
    expected_time = NOW if moment is None else moment.astimezone(UTC)
    assert parse("ioc/v1/status/dev-1", payload, now=NOW).records == (
        DeviceStatus("dev-1", online, expected_time),)


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
storable_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                        min_size=1, max_size=20)


@FUZZ
@given(names, names, storable_text, st.floats(1.6e9, 1.7487e9),
       st.none() | st.floats(0, 60), st.floats(0, 1), st.floats(0, 1),
       st.lists(names, max_size=3, unique=True), st.sampled_from(["new", "update", "end"]))
def test_frigate_event_round_trip(event_id, camera, label, start, duration, score, top, zones,
                                  kind):
    after = {"id": event_id, "camera": camera, "label": label, "start_time": start,
             "end_time": None if duration is None else start + duration, "score": score,
             "top_score": top, "entered_zones": zones, "current_zones": zones[-1:],
             "false_positive": False, "has_snapshot": True}
    (ev,) = parse("frigate/events", json.dumps({"type": kind, "after": after}).encode(),
                  now=NOW).records
    assert (ev.event_id, ev.device_id, ev.label, ev.phase, ev.confidence, ev.top_confidence,
            ev.zones) == (event_id, camera, label, kind, score, top, tuple(zones))
    assert ev.started_at == datetime.fromtimestamp(start, UTC)
    assert ev.ended_at == (None if duration is None
                           else datetime.fromtimestamp(start + duration, UTC))


cap_tokens = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.@_:-]{0,30}", fullmatch=True)
cap_moments = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2025, 5, 31),
                           timezones=offsets).map(lambda d: d.replace(microsecond=0))


@FUZZ
@given(cap_tokens, cap_tokens, cap_moments, st.sampled_from(
    ["Actual", "Exercise", "System", "Test", "Draft"]),
       st.sampled_from(["Alert", "Update", "Cancel", "Ack", "Error"]),
       st.sampled_from(["Public", "Restricted", "Private"]),
       st.lists(st.sampled_from(["Geo", "Met", "Safety", "Env", "Infra", "CBRNE", "Other"]),
                min_size=1, max_size=3),
       st.lists(st.tuples(cap_tokens, cap_tokens, cap_moments), max_size=3))
def test_cap_round_trip(identifier, sender, sent, status, msg_type, scope, categories, refs):
    if msg_type in ("Update", "Cancel") and not refs:
        refs = [(sender, "earlier-1", sent - timedelta(hours=1))]
    triples = tuple((s, i, t.isoformat()) for s, i, t in refs)
    extra = {"Restricted": "<restriction>PCTT</restriction>",
             "Private": "<addresses>ubnd</addresses>"}.get(scope, "")
    if triples:
        extra += f"<references>{' '.join(','.join(t) for t in triples)}</references>"
    xml = cap_alert(escape(identifier), escape(sender), sent.isoformat(), status, msg_type, scope,
                    extra, categories)
    (alert,) = parse("ioc/v1/cap", xml.encode(), now=NOW).records
    assert isinstance(alert, CapAlert)
    assert (alert.identifier, alert.sender, alert.sent, alert.status, alert.msg_type,
            alert.scope, alert.references) == (identifier, sender, sent.astimezone(UTC), status,
                                               msg_type, scope, triples)
    assert alert.info[0]["category"] == tuple(categories)


@FUZZ
@given(names, names, st.floats(1.6e9, 1.7487e9), st.none() | st.floats(0, 600),
       st.sampled_from(["alert", "detection"]), st.lists(names, max_size=5, unique=True),
       st.sampled_from(["new", "update", "end"]))
def test_frigate_review_round_trip(review_id, camera, start, duration, severity, detections,
                                   kind):
    end = None if duration is None else start + duration
    after = {"id": review_id, "camera": camera, "start_time": start, "end_time": end,
             "severity": severity, "data": {"detections": detections, "objects": ["person"]}}
    (item,) = parse("frigate/reviews", json.dumps({"type": kind, "after": after}).encode(),
                    now=NOW).records
    assert (item.review_id, item.device_id, item.phase, item.severity, item.event_ids) == (
        review_id, camera, kind, severity, tuple(detections))
    assert item.time == datetime.fromtimestamp(start if end is None else end, UTC)
