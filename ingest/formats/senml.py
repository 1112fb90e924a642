"""SenML (RFC 8428) JSON packs: the generic resolver and the mapping to our readings."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ingest.records import PayloadError, Reading

from . import json_values as jv
from .metrics import ALL_METRICS, MetricSpec, check_value
from .times import check_window, from_unix

SENML_VERSION = 10
RELATIVE_LIMIT = 2**28  # resolved times below this are relative to "now" (RFC 8428 4.5.3)

_STRING_FIELDS = ("bn", "bu", "n", "u", "vs", "vd")
_NUMBER_FIELDS = ("bt", "bv", "bs", "t", "v", "s", "ut")
KNOWN_FIELDS = frozenset(_STRING_FIELDS + _NUMBER_FIELDS + ("bver", "vb"))
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_METRIC = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class ResolvedRecord:
    """A SenML record in resolved form (RFC 8428 4.6): no base fields, absolute time."""

    name: str
    time: float  # absolute Unix seconds
    unit: str | None = None
    value: float | None = None
    string_value: str | None = None
    bool_value: bool | None = None
    data_value: str | None = None  # base64url, as sent
    sum: float | None = None
    update_time: float | None = None
    version: int | None = None  # present only when the pack's bver is not 10


def resolve_pack(pack: object, now: datetime) -> list[ResolvedRecord]:
    """Resolve a decoded SenML pack (RFC 8428 section 4.6), in chronological order."""
    if not isinstance(pack, list):
        raise PayloadError(f"a SenML pack must be a JSON array, got {jv.type_name(pack)}")
    if not pack:
        raise PayloadError("empty SenML pack")
    base: dict[str, object] = {}
    resolved: list[ResolvedRecord] = []
    for i, raw in enumerate(pack):
        path = f"[{i}]"
        rec = jv.expect_object(raw, path)
        _check_fields(rec, path)
        for key in ("bn", "bt", "bu", "bv", "bs", "bver"):
            if key in rec:
                base[key] = rec[key]
        resolved.append(_resolve(rec, base, now, path))
    resolved.sort(key=lambda r: r.time)  # stable: same-time records keep pack order
    return resolved


def _check_fields(rec: Mapping, path: str) -> None:
    for key, value in rec.items():
        where = jv.join(path, key)
        if key not in KNOWN_FIELDS:
            if key.endswith("_"):
                raise PayloadError(f"{where}: unknown must-understand field (ends in '_')")
            continue  # RFC 8428 4.4: other unknown fields are ignored
        if key in _STRING_FIELDS:
            jv.string(value, where, max_len=65536 if key in ("vs", "vd") else 1024,
                      empty_ok=key in ("bn", "n", "vs", "vd"))
        elif key in _NUMBER_FIELDS:
            jv.number(value, where)
        elif key == "vb":
            jv.boolean(value, where)
        elif key == "bver":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PayloadError(f"{where}: expected a positive integer, got {value!r}"[:120])
            if value > SENML_VERSION:
                raise PayloadError(f"{where}: SenML version {value} is newer than the "
                                   f"supported version {SENML_VERSION}")
    present = [k for k in ("v", "vs", "vb", "vd") if k in rec]
    if len(present) > 1:
        raise PayloadError(f"{path}: more than one value field ({', '.join(present)})")
    if "vd" in rec:
        _check_base64url(rec["vd"], jv.join(path, "vd"))
    if "ut" in rec and rec["ut"] < 0:
        raise PayloadError(f"{jv.join(path, 'ut')}: update time cannot be negative")


def _check_base64url(text: str, path: str) -> None:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise PayloadError(f"{path}: not base64url without padding (RFC 8428 4.3)")
    try:
        base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PayloadError(f"{path}: not base64url without padding (RFC 8428 4.3)") from None


def _resolve(rec: Mapping, base: Mapping, now: datetime, path: str) -> ResolvedRecord:
    name = str(base.get("bn", "")) + str(rec.get("n", ""))
    if not name:
        raise PayloadError(f"{path}: resolved name is empty")
    if not _NAME.fullmatch(name):
        raise PayloadError(f"{path}: resolved name {name[:80]!r} has a character outside "
                           "A-Z a-z 0-9 - : . / _ or does not start with a letter or digit")
    t = float(base.get("bt", 0)) + float(rec.get("t", 0))
    if t < RELATIVE_LIMIT:
        t += now.timestamp()
    value = None
    if "v" in rec or ("bv" in base and not any(k in rec for k in ("vs", "vb", "vd"))):
        value = _finite(float(base.get("bv", 0)) + float(rec.get("v", 0)), path, "value")
    total = None
    if "s" in rec or "bs" in base:
        total = _finite(float(base.get("bs", 0)) + float(rec.get("s", 0)), path, "sum")
    if value is None and total is None and not any(k in rec for k in ("vs", "vb", "vd")):
        raise PayloadError(f"{path}: record has no value (v, vs, vb, vd or s)")
    version = base.get("bver", SENML_VERSION)
    return ResolvedRecord(
        name=name, time=_finite(t, path, "time"), unit=rec.get("u", base.get("bu")),
        value=value, string_value=rec.get("vs"), bool_value=rec.get("vb"),
        data_value=rec.get("vd"), sum=total, update_time=rec.get("ut"),
        version=None if version == SENML_VERSION else version,
    )


def _finite(x: float, path: str, what: str) -> float:
    if not math.isfinite(x):
        raise PayloadError(f"{path}: resolved {what} is not a finite number")
    return x


def parse_senml(device_id: str, doc: object, *, now: datetime, max_future_s: int,
                metrics: Mapping[str, MetricSpec] = ALL_METRICS) -> tuple[Reading, ...]:
    """Readings of `device_id` from a decoded pack; names are `<device_id>:<metric>` or
    `urn:dev:ioc:<device_id>:<metric>`, the sum `s` becomes the metric `<metric>_sum`."""
    readings: list[Reading] = []
    seen: set[tuple[str, datetime]] = set()
    for rec in resolve_pack(doc, now):
        metric = _metric_of(rec.name, device_id)
        spec = metrics.get(metric)
        where = f"{rec.name}"
        if spec is None:
            raise PayloadError(f"{where}: unknown metric {metric!r} (known: "
                               f"{', '.join(metrics)})"[:300])
        if rec.unit is not None and rec.unit not in spec.senml_units:
            raise PayloadError(f"{where}: unit {rec.unit!r} is not accepted for {metric} "
                               f"(use {' or '.join(map(repr, spec.senml_units)) or 'no unit'})")
        t = check_window(from_unix(rec.time, f"{where} time"), now, max_future_s, f"{where} time")
        for reading in _readings(device_id, metric, spec, rec, t, where):
            key = (reading.metric, reading.time)
            if key in seen:
                raise PayloadError(f"{where}: two records for {reading.metric} at "
                                   f"{reading.time.isoformat()}")
            seen.add(key)
            readings.append(reading)
    return tuple(readings)


def _metric_of(name: str, device_id: str) -> str:
    prefix, _, metric = name.rpartition(":")
    if prefix not in (device_id, f"urn:dev:ioc:{device_id}") or not _METRIC.fullmatch(metric):
        raise PayloadError(f"{name[:80]}: name is not for device {device_id!r} (expected "
                           f"'{device_id}:<metric>' or 'urn:dev:ioc:{device_id}:<metric>')")
    return metric


def _readings(device_id: str, metric: str, spec: MetricSpec, rec: ResolvedRecord,
              t: datetime, where: str) -> list[Reading]:
    out: list[Reading] = []
    kind, value, text = _value_of(rec)
    if kind is not None:
        if kind != spec.value_type:
            field = {"number": "v", "boolean": "vb", "text": "vs", "data": "vd"}
            raise PayloadError(f"{where}: {metric} takes a {spec.value_type} "
                               f"({field[spec.value_type]}), got {field[kind]}")
        if value is not None and kind == "number":
            problem = check_value(metric, spec, value, where)
            if problem:
                raise PayloadError(problem)
        out.append(Reading(device_id, metric, t, value, text, spec.unit))
    if rec.sum is not None:
        if spec.minimum >= 0 and rec.sum < 0:
            raise PayloadError(f"{where}: sum of {metric} cannot be negative, got {rec.sum!r}")
        out.append(Reading(device_id, f"{metric}_sum", t, rec.sum, None, f"{spec.unit}·s"))
    return out


def _value_of(rec: ResolvedRecord) -> tuple[str | None, float | None, str | None]:
    if rec.value is not None:
        return "number", rec.value, None
    if rec.bool_value is not None:
        return "boolean", 1.0 if rec.bool_value else 0.0, None
    if rec.string_value is not None:
        return "text", None, rec.string_value
    if rec.data_value is not None:
        return "data", None, rec.data_value
    return None, None, None
