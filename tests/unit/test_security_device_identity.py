"""A device can only speak for itself: the ingest parsers refuse a payload naming another
device than its topic, and the broker ACL lets a device publish only under its own id."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.formats import parse
from ingest.records import PayloadError

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"


@pytest.mark.parametrize("family", ["environment", "disaster", "tourism", "camera"])
def test_own_json_naming_another_device_is_refused(family):
    payload = json.dumps({"device_id": "dev-2", "metrics": {}}).encode()
    with pytest.raises(PayloadError, match="differs from topic device"):
        parse(f"ioc/v1/{family}/dev-1", payload, now=NOW)


def test_senml_naming_another_device_is_refused():
    pack = [{"bn": "wl-2:", "n": "water_level_m", "v": 1.5}]
    with pytest.raises(PayloadError):
        parse("ioc/v1/senml/wl-1", json.dumps(pack).encode(), now=NOW)
    ok = parse("ioc/v1/senml/wl-1", json.dumps([{"bn": "wl-1:", "n": "water_level_m",
                                                   "v": 1.5}]).encode(), now=NOW)
    assert ok is not None


def _device_rules() -> list[tuple[str, str]]:
    rules = []
    for line in ACL.read_text().splitlines():
        m = re.match(r"^pattern\s+(read|write|readwrite)\s+(\S+)$", line.strip())
        if m:
            rules.append((m[1], m[2]))
    return rules


def test_broker_acl_lets_a_device_publish_only_under_its_own_id():
    text = ACL.read_text()
    rules = _device_rules()
    # every device topic family is covered, each by the device's own username (%u) only
    families = {"environment", "camera", "disaster", "tourism", "senml", "status"}
    assert {r[1] for r in rules} == {f"ioc/v1/{f}/%u" for f in families}
    assert all(kind == "write" for kind, _ in rules)
    # no wildcard grant to devices, no anonymous topic rules before the first user
    assert not any("#" in t or "+" in t for _, t in rules)
    head = text.split("\nuser ", 1)[0]
    assert not re.search(r"^topic\s", head, re.M)
    conf = (ACL.parent / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^acl_file ", conf, re.M) and re.search(r"^password_file ", conf, re.M)
