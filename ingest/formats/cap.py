"""CAP 1.2 alerts on ioc/v1/cap: safe XML parsing, XSD validation, then CAP's prose rules."""

from __future__ import annotations

import codecs
import functools
import re
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import xmlschema
from defusedxml import DefusedXmlException

from ingest.records import CapAlert, FrozenDict, PayloadError
from ioc.domain.cap import CAP_XSD

from .times import check_window, parse_rfc3339

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XSD_PATH = CAP_XSD
_N = f"{{{CAP_NS}}}"
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[-+][0-9]{2}:[0-9]{2}")
_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_NUM = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_POINT = re.compile(rf"({_NUM}),({_NUM})")
_CIRCLE = re.compile(rf"({_NUM}),({_NUM})\s+({_NUM})")
# An encoding declaration (XML 1.0 section 4.3.3), read from the ASCII-compatible start of
# the document; the byte order marks and UTF-16/32 first bytes of Appendix F.
_DECLARATION = re.compile(
    rb"<\?xml\s+version\s*=\s*[\"']1\.[0-9]+[\"']\s+encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_UTF16_STARTS = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
# Deeper documents are refused before the schema check, whose validator recurses per level
# (about 1,000 levels of nesting inside <Signature> exhausted Python's stack). CAP itself is
# 5 levels deep (alert/info/area/geocode/value) and an XML signature about 7 more.
MAX_DEPTH = 48
ALERT_REQUIRED = ("identifier", "sender", "sent", "status", "msgType", "scope")
INFO_REQUIRED = ("category", "event", "urgency", "severity", "certainty")


@functools.cache
def cap_schema() -> xmlschema.XMLSchema:
    """The CAP 1.2 XML Schema (loaded once, on first use)."""
    # use_fallback=False: the `xmldsig` wildcard is lax and CAP 1.2 does not import the XML
    # signature schema, so <Signature> content is not validated -- as with the OASIS schema
    # alone. (xmlschema's bundled fallback would load it and refuse e.g. Canada's NAADS
    # `Id="NAADS Signature"`, which the CAP schema accepts.)
    return xmlschema.XMLSchema(str(XSD_PATH), use_fallback=False)


def xml_encoding(payload: bytes) -> str:
    """The document's encoding as XML 1.0 determines it: a byte order mark, else the
    declaration's `encoding`, else UTF-8."""
    for bom, name in _BOMS:
        if payload.startswith(bom):
            return name
    for start, name in _UTF16_STARTS:
        if payload.startswith(start):
            return name
    m = _DECLARATION.match(payload[:200])
    return m[1].decode("ascii") if m else "utf-8"


def decode_xml(payload: bytes) -> str:
    """The document as text, decoded in its own encoding (PayloadError naming the encoding and
    the offset when the bytes do not match it, or when Python does not know it)."""
    name = xml_encoding(payload)
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise PayloadError(f"XML declares an unknown encoding {name[:40]!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise PayloadError(f"XML declares {name[:40]!r}, which is not a text encoding")
    try:
        return payload.decode(info.name)
    except UnicodeDecodeError as exc:
        bad = payload[exc.start:exc.start + 1].hex()
        label = "UTF-8" if info.name == "utf-8" else name[:40]
        raise PayloadError(f"payload is not valid {label} (byte 0x{bad} at offset {exc.start})") \
            from None


def _check_depth(root: Element) -> None:
    """Refuse nesting deeper than MAX_DEPTH (iteratively: this check itself cannot recurse)."""
    stack = [(root, 1, root.tag)]
    while stack:
        el, depth, first = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"XML nested deeper than {MAX_DEPTH} levels (inside "
                               f"{_local(first)!r})")
        for child in el:
            stack.append((child, depth + 1, child.tag if depth == 1 else first))


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1][:60]


def parse_cap(payload: bytes, *, now: datetime, max_future_s: int) -> CapAlert:
    text = decode_xml(payload)
    try:
        # Parsed from the decoded text: expat then reads it as UTF-8 whatever it declares.
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise PayloadError(f"XML rejected: {type(exc).__name__} (DTDs, entity declarations and "
                           "external references are not allowed)") from None
    except ParseError as exc:
        raise PayloadError(f"invalid XML: {exc}") from None
    if root.tag != f"{_N}alert":
        raise PayloadError(f"root element is {root.tag[:100]!r}, expected <alert> in namespace "
                           f"{CAP_NS}")
    _check_depth(root)
    _precheck(root)
    _validate_xsd(root)
    sent = check_window(_datetime(_text(root, "sent"), "alert.sent"), now, max_future_s,
                        "alert.sent")
    identifier, sender = _text(root, "identifier"), _text(root, "sender")
    for name, value in (("identifier", identifier), ("sender", sender)):
        if not value or _FORBIDDEN_ID_CHARS.search(value):
            raise PayloadError(f"alert.{name}: {value[:80]!r} must be non-empty without spaces, "
                               "commas, '<' or '&'")
    msg_type, scope = _text(root, "msgType"), _text(root, "scope")
    references = _references(root.find(f"{_N}references"))
    if msg_type in ("Update", "Cancel") and not references:
        raise PayloadError(f"alert.references: required when msgType is {msg_type}")
    if scope == "Restricted" and root.find(f"{_N}restriction") is None:
        raise PayloadError("alert.restriction: required when scope is Restricted")
    if scope == "Private" and root.find(f"{_N}addresses") is None:
        raise PayloadError("alert.addresses: required when scope is Private")
    infos = tuple(_info(el, i) for i, el in enumerate(root.findall(f"{_N}info")))
    return CapAlert(identifier=identifier, sender=sender, sent=sent,
                    status=_text(root, "status"), msg_type=msg_type, scope=scope,
                    references=references, xml=text, info=infos)


def _precheck(root: Element) -> None:
    """Specific messages for the mistakes seen most; the XSD catches everything else."""
    for name in ALERT_REQUIRED:
        if root.find(f"{_N}{name}") is None:
            raise PayloadError(f"alert: missing <{name}>")
    _datetime(_text(root, "sent"), "alert.sent")
    for i, info in enumerate(root.findall(f"{_N}info")):
        for name in INFO_REQUIRED:
            if info.find(f"{_N}{name}") is None:
                raise PayloadError(f"alert.info[{i}]: missing <{name}>")
        for name in ("effective", "onset", "expires"):
            if info.find(f"{_N}{name}") is not None:
                _datetime(_text(info, name), f"alert.info[{i}].{name}")


def _validate_xsd(root: Element) -> None:
    try:
        error = next(cap_schema().iter_errors(root, use_location_hints=False), None)
    except RecursionError:  # not reached below MAX_DEPTH; kept so it can never escape
        raise PayloadError("CAP schema: the document is nested too deeply to check") from None
    except (xmlschema.XMLSchemaException, ValueError, TypeError) as exc:
        raise PayloadError(f"CAP schema: {str(exc).splitlines()[0][:200]}") from None
    if error is not None:
        reason = (error.reason or error.message or "invalid").splitlines()[0].replace(_N, "")
        where = (error.path or "/alert").replace(_N, "")
        raise PayloadError(f"CAP schema: {where}: {reason}"[:300])


def _datetime(text: str, path: str) -> datetime:
    if text.endswith(("Z", "z")):
        raise PayloadError(f"{path}: {text[:40]!r} uses 'Z'; CAP 1.2 requires a numeric "
                           "offset (write UTC as -00:00)")
    if not _DATETIME.fullmatch(text):
        raise PayloadError(f"{path}: {text[:40]!r} is not YYYY-MM-DDThh:mm:ss±hh:mm "
                           "(no fractional seconds)")
    return parse_rfc3339(text, path, allow_z=False)


def _text(parent: Element, name: str) -> str:
    el = parent.find(f"{_N}{name}")
    return (el.text or "").strip() if el is not None else ""


def _texts(parent: Element, name: str) -> list[str]:
    return [(el.text or "").strip() for el in parent.findall(f"{_N}{name}")]


def _references(el: Element | None) -> tuple[tuple[str, str, str], ...]:
    """The triples; an empty <references/> (valid by the schema, e.g. Canada's NAAD feed)
    is no references at all."""
    if el is None or not (el.text or "").strip():
        return ()
    triples = []
    for item in (el.text or "").split():
        parts = item.split(",")
        if len(parts) != 3 or not all(parts):
            raise PayloadError(f"alert.references: {item[:80]!r} is not sender,identifier,sent")
        _datetime(parts[2], "alert.references")
        triples.append((parts[0], parts[1], parts[2]))
    return tuple(triples)


def _pairs(parent: Element, name: str) -> list[dict]:
    return [{"valueName": _text(el, "valueName"), "value": _text(el, "value")}
            for el in parent.findall(f"{_N}{name}")]


def _info(info: Element, i: int) -> FrozenDict:
    out: dict = {
        "language": _text(info, "language") or "en-US",
        "category": _texts(info, "category"),
        "event": _text(info, "event"),
        "responseType": _texts(info, "responseType"),
        "urgency": _text(info, "urgency"),
        "severity": _text(info, "severity"),
        "certainty": _text(info, "certainty"),
        "eventCode": _pairs(info, "eventCode"),
        "parameter": _pairs(info, "parameter"),
    }
    for name in ("audience", "effective", "onset", "expires", "senderName", "headline",
                 "description", "instruction", "web", "contact"):
        if info.find(f"{_N}{name}") is not None:
            out[name] = _text(info, name)
    out["resource"] = [
        {name: _text(res, name) for name in ("resourceDesc", "mimeType", "size", "uri",
                                             "derefUri", "digest")
         if res.find(f"{_N}{name}") is not None}
        for res in info.findall(f"{_N}resource")
    ]
    out["area"] = [_area(area, f"alert.info[{i}].area[{j}]")
                   for j, area in enumerate(info.findall(f"{_N}area"))]
    return FrozenDict(out)


def _area(area: Element, path: str) -> dict:
    polygons = [_polygon(text, f"{path}.polygon") for text in _texts(area, "polygon")]
    circles = [_circle(text, f"{path}.circle") for text in _texts(area, "circle")]
    out: dict = {"areaDesc": _text(area, "areaDesc"), "polygon": _texts(area, "polygon"),
                 "circle": _texts(area, "circle"), "geocode": _pairs(area, "geocode"),
                 "polygons_lonlat": polygons, "circles": circles}
    for name in ("altitude", "ceiling"):
        if area.find(f"{_N}{name}") is not None:
            out[name] = float(_text(area, name))
    if "ceiling" in out and "altitude" not in out:
        raise PayloadError(f"{path}.ceiling: only allowed together with <altitude>")
    return out


def _point(text: str, path: str) -> tuple[float, float]:
    m = _POINT.fullmatch(text)
    if m is None:
        raise PayloadError(f"{path}: {text[:40]!r} is not a 'lat,lon' point")
    lat, lon = float(m[1]), float(m[2])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PayloadError(f"{path}: {text[:40]!r} is outside lat -90..90, lon -180..180")
    return lat, lon


def _polygon(text: str, path: str) -> list[list[float]]:
    points = [_point(p, path) for p in text.split()]
    if len(points) < 4:
        raise PayloadError(f"{path}: a polygon needs at least 4 points, got {len(points)}")
    if points[0] != points[-1]:
        raise PayloadError(f"{path}: polygon is not closed (first point must equal the last)")
    return [[lon, lat] for lat, lon in points]  # GeoJSON order


def _circle(text: str, path: str) -> dict:
    m = _CIRCLE.fullmatch(text)
    if m is None:
        raise PayloadError(f"{path}: {text[:40]!r} is not 'lat,lon radius_km'")
    lat, lon = _point(f"{m[1]},{m[2]}", path)
    radius = float(m[3])
    if radius < 0:
        raise PayloadError(f"{path}: radius cannot be negative")
    return {"lat": lat, "lon": lon, "radius_km": radius}
