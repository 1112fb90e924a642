"""Every simulated incident comes with a real picture: a JPEG on Frigate's snapshot topic
before its first update, named by its SHA-256 in our JSON; ordinary detections have none."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from PIL import Image

from sensors_sim.fleet import FaultRates, load_fleet
from sensors_sim.generator import generate
from sensors_sim.snapshots import draw_snapshot

START = datetime(2025, 7, 12, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def messages():
    fleet = load_fleet()
    fleet = fleet.model_copy(update={"devices": [d for d in fleet.devices
                                                 if d.kind == "camera"]})
    end = START.timestamp() + 2 * 3600
    out = []
    for m in generate(fleet, "incident", START, 1, faults=FaultRates()):
        if m.sim_ts > end:
            break
        out.append(m)
    return out


def test_each_incident_has_its_picture(messages):
    pictures = {hashlib.sha256(m.payload).hexdigest(): m for m in messages
                if m.topic.endswith("/snapshot")}
    assert pictures
    for m in pictures.values():
        image = Image.open(io.BytesIO(m.payload))
        assert image.format == "JPEG" and image.size == (640, 360)
    named, incidents_json, frigate_incidents, frigate_snapped = set(), set(), set(), set()
    for i, m in enumerate(messages):
        if m.topic.endswith("/snapshot"):
            nxt = json.loads(messages[i + 1].payload)  # the event it belongs to comes next
            if "event" in nxt:
                assert nxt["event"]["snapshot"] == "sha256:" + hashlib.sha256(
                    m.payload).hexdigest()
            else:
                frigate_snapped.add(nxt["after"]["id"])
                assert m.topic == f"frigate/{nxt['after']['camera']}/{nxt['after']['label']}/snapshot"
            continue
        doc = json.loads(m.payload)
        if "event" in doc:
            incidents_json.add(doc["event"]["id"])
            if "snapshot" in doc["event"]:
                named.add(doc["event"]["id"])
                assert doc["event"]["snapshot"][7:] in pictures
        elif m.topic == "frigate/events" and doc["type"] != "new":
            after = doc["after"]
            if after["sub_label"] or after["label"] in ("fire", "smoke") or \
                    after.get("recognized_license_plate") == "24A-686.68":
                frigate_incidents.add(after["id"])
    assert incidents_json and named == incidents_json
    assert frigate_incidents and frigate_incidents <= frigate_snapped


def test_ordinary_detections_have_a_picture_only_in_a_closed_zone(messages):
    snapped, detections = 0, 0
    for i, m in enumerate(messages):
        if m.topic.endswith("/snapshot"):
            after = json.loads(messages[i + 1].payload).get("after")
            if after and not after["sub_label"] and after["label"] in ("person", "car",
                                                                       "motorcycle", "truck") \
                    and after.get("recognized_license_plate") != "24A-686.68":
                snapped += 1
                assert set(after["entered_zones"]) & {"inspection", "loading_bay"}
        elif m.topic == "frigate/events" and json.loads(m.payload)["type"] == "new":
            detections += 1
    assert 0 < snapped < detections / 3


def test_same_incident_same_bytes():
    a = draw_snapshot("wanted_plate", camera="c", caption_time="t", plate="24A-686.68", seed="s")
    assert a == draw_snapshot("wanted_plate", camera="c", caption_time="t", plate="24A-686.68",
                              seed="s")
    assert a != draw_snapshot("wanted_plate", camera="c", caption_time="t", plate="29A-111.11",
                              seed="s")
