"""Registry files (CSV, YAML, GeoJSON) parsed into entries; every problem named by line and field.

`parse_registry(data, fmt)` is pure: it reads every row, checks each against
`ioc.devices.model`, and returns the good entries together with *all* the problems, so the
caller stores nothing when there is one. CSV columns, YAML keys and GeoJSON properties are the
same fields (docs/devices.md).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ioc.devices.model import RegistryEntry, metadata_model

MAX_DEVICES = 200_000
MAX_PROBLEMS_SHOWN = 100

# CSV: the columns of RegistryEntry, the location flattened, and the common metadata keys as
# columns of their own; any other metadata goes into the `metadata` column as JSON.
CSV_COLUMNS = (
    "id", "name", "family", "kind", "unit", "lon", "lat", "expected_interval_s",
    "elevation_m", "protocol", "river", "datum", "alarm_level_1", "alarm_level_2",
    "alarm_level_3", "levels_source", "capacity", "zones", "lpr", "site", "place", "vendor",
    "model", "serial", "installed", "owner", "note", "metadata", "simulation",
)
CSV_REQUIRED = ("id", "name", "kind")
_TOP = ("id", "name", "family", "kind", "unit", "expected_interval_s")
_NUMBER_COLUMNS = {"lon", "lat", "expected_interval_s", "elevation_m", "alarm_level_1",
                   "alarm_level_2", "alarm_level_3", "capacity"}
_LEVEL_COLUMNS = {"alarm_level_1": "I", "alarm_level_2": "II", "alarm_level_3": "III"}
_YES, _NO = {"yes", "true", "1", "có"}, {"no", "false", "0", "không"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: where (line, device, field) and why."""

    line: int | None
    field: str | None
    message: str
    device_id: str | None = None

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        device = f" ({self.device_id})" if self.device_id else ""
        what = f"{self.field}: " if self.field else ""
        return f"{where}{device}: {what}{self.message}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The entries of a file with the line each starts on, and every problem found."""

    entries: tuple[tuple[int | None, RegistryEntry], ...]
    problems: tuple[Problem, ...] = ()
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self, limit: int | None = MAX_PROBLEMS_SHOWN) -> list[str]:
        shown = self.problems if limit is None else self.problems[:limit]
        out = [p.describe() for p in shown]
        if limit is not None and len(self.problems) > limit:
            out.append(f"... and {len(self.problems) - limit} more")
        return out


@dataclass
class _Row:
    """One raw entry and how to find the line of each of its fields."""

    line: int | None
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)  # field path -> line
    csv: bool = False  # name fields by their CSV column

    def line_of(self, loc: tuple) -> int | None:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return self.line


def format_of(path: Path | str) -> str:
    """'csv', 'yaml' or 'geojson' from the file name; ValueError for anything else."""
    name = str(path).lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    raise ValueError(f"{path}: unknown registry format (use .csv, .yaml/.yml or .geojson/.json)")


def parse_registry(data: bytes | str, fmt: str) -> Parsed:
    """Every entry of a registry file and every problem in it (pure)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    try:
        rows = {"csv": _csv_rows, "yaml": _yaml_rows, "geojson": _geojson_rows}[fmt](text)
    except _FileProblem as err:
        return Parsed((), (Problem(err.line, None, str(err)),))
    except UnicodeDecodeError:
        return Parsed((), (Problem(None, None, "not UTF-8 text"),))
    if len(rows) > MAX_DEVICES:
        return Parsed((), (Problem(None, None, f"{len(rows)} devices; at most {MAX_DEVICES} "
                                               "per file"),), len(rows))
    return validate_rows(rows)


def validate_rows(rows: list[_Row]) -> Parsed:
    entries: list[tuple[int | None, RegistryEntry]] = []
    problems: list[Problem] = []
    first_line: dict[str, int | None] = {}
    for row in rows:
        found = _check(row)
        if isinstance(found, RegistryEntry):
            if found.id in first_line:
                where = first_line[found.id]
                problems.append(Problem(row.line, "id", "duplicate id (first on "
                                        f"{'line ' + str(where) if where else 'an earlier row'})",
                                        found.id))
                continue
            first_line[found.id] = row.line
            entries.append((row.line, found))
        else:
            problems.extend(found)
    return Parsed(tuple(entries), tuple(problems), len(rows))


def check_data(data: Any) -> RegistryEntry | list[Problem]:
    """One entry given as a mapping (an edit, an API body): the entry, or its problems."""
    return _check(_Row(None, data))


def _device_id(data: Any) -> str | None:
    if isinstance(data, Mapping) and isinstance(data.get("id"), str | int):
        return str(data["id"])
    return None


def _check(row: _Row) -> RegistryEntry | list[Problem]:
    device_id = _device_id(row.data)
    if isinstance(row.data, str):
        return [Problem(row.line, None, row.data)]
    if not isinstance(row.data, Mapping):
        return [Problem(row.line, None, "expected a mapping of fields", device_id)]
    cell_problems = [Problem(row.line, key, message, device_id)
                     for key, message in getattr(row.data, "bad", ())]
    bad = {p.field for p in cell_problems}
    problems = list(cell_problems)
    entry = meta = None
    try:
        entry = RegistryEntry.model_validate(dict(row.data))
    except ValidationError as err:
        found = [_problem(row, e, device_id) for e in err.errors()]
        problems += [p for p in found if not _covered(p.field, bad)]
    kind, raw_meta = row.data.get("kind"), row.data.get("metadata", {})
    if isinstance(kind, str) and isinstance(raw_meta, Mapping):
        try:
            meta = metadata_model(kind).model_validate(dict(raw_meta))
        except ValidationError as err:
            found = [_problem(row, e, device_id, prefix=("metadata",)) for e in err.errors()]
            problems += [p for p in found if not _covered(p.field, bad)]
    if problems or entry is None or meta is None:
        return problems
    metadata = meta.model_dump(mode="json", exclude_none=True)
    if not (entry.kind == "camera" and meta.lpr) and "lpr" in metadata and not metadata["lpr"]:
        metadata.pop("lpr")
    return entry.model_copy(update={"metadata": metadata})


def _covered(name: str | None, bad: set[str | None]) -> bool:
    """Whether a model error only repeats an unreadable cell (lon -> location.lon)."""
    if name is None:
        return False
    return any(b and (name == b or name.endswith("." + b) or name.startswith(b + ".")
                      or (b in ("lon", "lat") and name.startswith("location"))
                      or (b.startswith("alarm_level") and "alarm_levels" in name))
               for b in bad)


def _problem(row: _Row, error: Mapping[str, Any], device_id: str | None,
             prefix: tuple = ()) -> Problem:
    loc = prefix + tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required"
    name = _csv_column(loc) if row.csv else ".".join(str(x) for x in loc) or None
    return Problem(row.line_of(loc), name, message, device_id)


_LEVEL_OF = {v: k for k, v in _LEVEL_COLUMNS.items()}


def _csv_column(loc: tuple) -> str | None:
    """The CSV column a model field comes from (location.lon -> lon, ...)."""
    if not loc:
        return None
    if loc[0] == "location":
        return str(loc[1]) if len(loc) > 1 else "lon, lat"
    if loc[0] == "metadata" and len(loc) > 1:
        if loc[1] == "alarm_levels":
            if len(loc) > 2 and loc[2] in _LEVEL_OF:
                return _LEVEL_OF[loc[2]]
            return "alarm_level_1, alarm_level_2, alarm_level_3"
        if loc[1] in CSV_COLUMNS:
            return str(loc[1])
        return "metadata." + ".".join(str(x) for x in loc[1:])
    return ".".join(str(x) for x in loc)


class _FileProblem(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# -- CSV ---------------------------------------------------------------------------------------
def _csv_rows(text: str) -> list[_Row]:
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise _FileProblem("empty file: expected a header row") from None
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h and h not in CSV_COLUMNS]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        raise _FileProblem("; ".join(parts), 1)
    rows: list[_Row] = []
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            rows.append(_Row(start, f"{len(cells)} cells, the header has {len(header)}",
                             csv=True))
            continue
        rows.append(_csv_row(start, dict(zip(header, cells, strict=False))))
    return rows


class _CellProblem(ValueError):
    pass


def _csv_row(line: int, cells: dict[str, str]) -> _Row:
    values = {k: v.strip() for k, v in cells.items() if k and v is not None and v.strip() != ""}
    bad: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key, raw in values.items():
        try:
            value: Any = _csv_value(key, raw)
        except _CellProblem as err:
            bad.append((key, str(err)))
            continue
        if key in _TOP:
            out[key] = value
        elif key in ("lon", "lat"):
            out.setdefault("location", {})[key] = value
        elif key in _LEVEL_COLUMNS:
            metadata.setdefault("alarm_levels", {})[_LEVEL_COLUMNS[key]] = value
        elif key == "metadata":
            if not isinstance(value, dict):
                bad.append((key, "expected a JSON object"))
                continue
            metadata = {**value, **metadata}
        elif key == "simulation":
            out["simulation"] = value
        else:
            metadata[key] = value
    if metadata:
        out["metadata"] = metadata
    if bad:
        return _Row(line, _BadCells(out, bad), csv=True)
    return _Row(line, out, csv=True)


class _BadCells(dict):
    """A row whose cells could not even be read: reported before model validation."""

    def __init__(self, data: dict[str, Any], bad: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.bad = bad


def _csv_value(key: str, raw: str) -> Any:
    if key in _NUMBER_COLUMNS:
        try:
            number = float(raw.replace(",", ".")) if raw.count(",") == 1 and "." not in raw \
                else float(raw)
        except ValueError:
            raise _CellProblem(f"not a number: {raw!r}") from None
        if not math.isfinite(number):
            raise _CellProblem(f"not a finite number: {raw!r}")
        if key in ("expected_interval_s", "capacity"):
            if number != int(number):
                raise _CellProblem(f"expected a whole number, got {raw!r}")
            return int(number)
        return number
    if key == "zones":
        return [z.strip() for z in raw.replace(",", ";").split(";") if z.strip()]
    if key == "lpr":
        if raw.lower() in _YES:
            return True
        if raw.lower() in _NO:
            return False
        raise _CellProblem(f"expected yes or no, got {raw!r}")
    if key in ("metadata", "simulation"):
        try:
            return json.loads(raw)
        except ValueError as err:
            raise _CellProblem(f"not valid JSON ({err.msg})") from None
    return raw


# -- YAML --------------------------------------------------------------------------------------
def _yaml_rows(text: str) -> list[_Row]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise _FileProblem(f"not valid YAML: {getattr(err, 'problem', None) or err}",
                           mark.line + 1 if mark else None) from None
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list):
        raise _FileProblem("expected a mapping with a `devices:` list at the top")
    extra = sorted(str(k) for k in data if k != "devices")
    if extra:
        raise _FileProblem(f"unknown top-level key(s) {', '.join(extra)} (only `devices`)")
    items = _node_value(root, "devices")
    nodes = items.value if isinstance(items, yaml.SequenceNode) else []
    return [_Row(n.start_mark.line + 1 if n else None, d, _node_lines(n))
            for d, n in zip(data["devices"], _pad(nodes, len(data["devices"])), strict=True)]


def _pad(nodes: list, n: int) -> list:
    return list(nodes)[:n] + [None] * (n - len(nodes))


def _node_value(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _node_lines(node: Any, prefix: tuple = ()) -> dict[tuple, int]:
    """Field path -> line, for every key under a mapping node (nested mappings too)."""
    out: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                path = (*prefix, k.value)
                out[path] = k.start_mark.line + 1
                out.update(_node_lines(v, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            path = (*prefix, i)
            out[path] = v.start_mark.line + 1
            out.update(_node_lines(v, path))
    return out


# -- GeoJSON -----------------------------------------------------------------------------------
def _geojson_rows(text: str) -> list[_Row]:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise _FileProblem(f"not valid JSON: {err.msg}", getattr(err, "lineno", None)) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise _FileProblem("expected a GeoJSON FeatureCollection with `features`")
    try:  # JSON is YAML: the composer gives each feature's line
        root = yaml.compose(text.replace("\t", " "), Loader=yaml.SafeLoader)
        nodes = _node_value(root, "features")
        nodes = nodes.value if isinstance(nodes, yaml.SequenceNode) else []
    except yaml.YAMLError:
        nodes = []
    rows = []
    for feature, node in zip(data["features"], _pad(nodes, len(data["features"])), strict=True):
        line = node.start_mark.line + 1 if node is not None else None
        lines = {}
        if node is not None:
            props = _node_value(node, "properties")
            lines = _node_lines(props)
            geometry = _node_value(node, "geometry")
            if geometry is not None:
                lines[("location",)] = geometry.start_mark.line + 1
        rows.append(_Row(line, _feature_entry(feature), lines))
    return rows


def _feature_entry(feature: Any) -> Any:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "not a GeoJSON Feature"
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return "properties: expected an object"
    entry = dict(props)
    geometry = feature.get("geometry")
    if geometry is not None:
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not (isinstance(geometry, dict) and geometry.get("type") == "Point"
                and isinstance(coords, list) and len(coords) in (2, 3)):
            return _BadCells(entry, [("location", "geometry must be a Point [lon, lat]")])
        entry["location"] = {"lon": coords[0], "lat": coords[1]}
        if len(coords) == 3:
            entry.setdefault("metadata", {})
            if isinstance(entry["metadata"], dict):
                entry["metadata"] = {"elevation_m": coords[2], **entry["metadata"]}
    return entry


def entries_to_csv(entries: Iterable[RegistryEntry]) -> str:
    """The entries as a registry CSV (the format `ioc devices list --csv` writes)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        meta = dict(e.metadata)
        levels = meta.pop("alarm_levels", None) or {}
        meta.pop("alarm_levels_version", None)
        row: dict[str, Any] = {
            "id": e.id, "name": e.name, "family": e.device_family, "kind": e.kind,
            "unit": e.unit, "expected_interval_s": e.expected_interval_s,
            "lon": e.location.lon if e.location else None,
            "lat": e.location.lat if e.location else None,
            "alarm_level_1": levels.get("I"), "alarm_level_2": levels.get("II"),
            "alarm_level_3": levels.get("III"),
        }
        for key in CSV_COLUMNS:
            if key in meta and key not in row:
                value = meta.pop(key)
                row[key] = ";".join(value) if isinstance(value, list) else value
        if meta:
            row["metadata"] = json.dumps(meta, ensure_ascii=False, sort_keys=True)
        writer.writerow(["" if row.get(c) is None else row[c] for c in CSV_COLUMNS])
    return buf.getvalue()
