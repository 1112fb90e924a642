"""Imports reported KPI figures (CSV file or API rows): every bad row named, nothing half-imported.

`import_rows(conn, rows, source=...)` is what the HTTP API calls; `import_csv` reads a file
first. Both check every row against the catalogue before touching the database, and store all
rows in one transaction only when none has a problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from kpi.catalogue import PERIODS, Catalogue, Kpi, load_catalogue
from kpi.periods import PeriodError, parse_period_start
from kpi.store import KpiValue, upsert_values

COLUMNS = ("kpi_id", "unit_id", "breakdown", "period", "period_start", "value", "numerator",
           "denominator", "note", "as_reported")
REQUIRED_COLUMNS = ("kpi_id", "period", "period_start")
MAX_ROWS = 50_000
MAX_NOTE = 500
MAX_PROBLEMS_SHOWN = 50
# How far a percentage may be from 100·numerator/denominator: a figure rounded as reports round
# it (37.31 % written as 37) passes; a value that belongs to other counts does not.
PERCENT_TOLERANCE = 0.5
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"", "no", "false", "0"})
_UNIT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong with one row (line None: with the file as a whole)."""

    line: int | None
    reason: str
    column: str | None = None

    def describe(self, unit: str = "line") -> str:
        where = f"{unit} {self.line}" if self.line is not None else "file"
        column = f"{self.column}: " if self.column else ""
        return f"{where}: {column}{self.reason}"


@dataclass(frozen=True)
class ImportReport:
    """The outcome of one import: stored > 0 only when there was no problem at all."""

    source: str
    rows: int
    stored: int
    problems: tuple[RowProblem, ...] = ()
    unit: str = "line"  # what `RowProblem.line` counts: CSV lines, or rows of an API request
    kpis: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self, limit: int | None = MAX_PROBLEMS_SHOWN) -> list[str]:
        shown = self.problems if limit is None else self.problems[:limit]
        out = [p.describe(self.unit) for p in shown]
        if limit is not None and len(self.problems) > limit:
            out.append(f"... and {len(self.problems) - limit} more")
        return out

    def summary(self) -> str:
        if self.ok:
            return f"{self.stored} value(s) stored from {self.source} ({', '.join(self.kpis)})"
        return (f"{self.source} was not imported: {len(self.problems)} problem(s) in "
                f"{self.rows} row(s); nothing was stored")

    def to_dict(self) -> dict:
        """JSON-ready form for the HTTP API."""
        return {
            "source": self.source,
            "ok": self.ok,
            "rows": self.rows,
            "stored": self.stored,
            "kpis": list(self.kpis),
            "problems": [
                {self.unit: p.line, "column": p.column, "reason": p.reason} for p in self.problems
            ],
        }


# -- reading a CSV file (pure) --------------------------------------------------------------------
def read_csv(data: bytes | str) -> tuple[list[tuple[int, dict[str, str]]], list[RowProblem]]:
    """Rows keyed by column, each with the line it starts on (the header is line 1)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            return [], [RowProblem(line, "not UTF-8 text; save the file as \"CSV UTF-8\"")]
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        return [], [RowProblem(None, "the file is empty")]
    first = text.splitlines()[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[RowProblem] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            problems.append(RowProblem(1, f"unknown column(s) {', '.join(map(repr, unknown))}; "
                                          f"the columns are {', '.join(COLUMNS)}"))
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if "value" not in header and not {"numerator", "denominator"} <= set(header):
            missing.append("value")
        if missing:
            problems.append(RowProblem(1, f"missing column(s) {', '.join(missing)}"))
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            problems.append(RowProblem(1, f"column(s) given twice: {', '.join(dupes)}"))
        if problems:
            return [], problems
        line_end = reader.line_num
        for fields in reader:
            start, line_end = line_end + 1, reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                problems.append(RowProblem(
                    start, f"{len(fields)} field(s) where the header has {len(header)}"))
                continue
            rows.append((start, dict(zip(header, fields, strict=True))))
            if len(rows) > MAX_ROWS:
                return [], [RowProblem(None, f"more than {MAX_ROWS} rows; split the file")]
    except csv.Error as err:
        problems.append(RowProblem(reader.line_num, f"not valid CSV: {err}"))
    if not rows and not problems:
        problems.append(RowProblem(None, "no data rows after the header"))
    return rows, problems


# -- checking rows (pure) -------------------------------------------------------------------------
def _text(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return str(value)


def _number(row: Mapping[str, object], key: str) -> float | None:
    """A number from a JSON number or a CSV text; None when empty; ValueError with the reason."""
    raw = row.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int | float):
        number = float(raw)
    else:
        text = str(raw).strip()
        if "," in text or " " in text:
            raise ValueError(f"{text!r}: write numbers with '.' for decimals and no thousands "
                             "separators (81000, 37.3)")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{raw!r} is not a finite number")
    return number


def _fmt(x: float) -> str:
    return f"{x:g}"


def _flag(row: Mapping[str, object], key: str) -> bool:
    """A yes/no column: JSON true/false, or yes/no, true/false, 1/0 (empty: no)."""
    raw = row.get(key)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"{raw!r}: write yes or no (or leave it empty)")


def fraction_conflict(value: float, numerator: float, denominator: float) -> str | None:
    """Why a percentage contradicts its own counts, or None when they agree (pure)."""
    from_counts = 100 * numerator / denominator
    if abs(value - from_counts) <= PERCENT_TOLERANCE + 1e-9:
        return None
    return (f"{_fmt(value)} contradicts numerator/denominator {_fmt(numerator)}/"
            f"{_fmt(denominator)} = {from_counts:.2f} % (more than {_fmt(PERCENT_TOLERANCE)} "
            "percentage points apart); correct the value or the counts, or, when the report "
            "itself gives both, set as_reported to yes and say in note how they differ")


def check_row(row: Mapping[str, object], line: int, catalogue: Catalogue,
              units: set[str] | None,
              today: dt.date) -> tuple[KpiValue | None, list[RowProblem]]:
    """One row as a KpiValue, or the problems that stop it (every one found, not just the first)."""
    problems: list[RowProblem] = []

    def bad(column: str | None, reason: str) -> None:
        problems.append(RowProblem(line, reason, column))

    extra = [k for k in row if k not in COLUMNS]
    if extra:
        bad(None, f"unknown field(s) {', '.join(map(repr, sorted(extra)))}")
    kpi_id = _text(row, "kpi_id")
    kpi: Kpi | None = None
    if not kpi_id:
        bad("kpi_id", "required")
    else:
        kpi = catalogue.get(kpi_id)
        if kpi is None:
            bad("kpi_id", f"unknown KPI {kpi_id!r}; reported KPIs are "
                          f"{', '.join(k.id for k in catalogue.reported())}")
        elif kpi.source != "reported":
            bad("kpi_id", f"{kpi_id} is computed from telemetry (`ioc kpi refresh`); "
                          "it cannot be imported")
            kpi = None
    period = _text(row, "period").lower()
    start: dt.date | None = None
    if not period:
        bad("period", "required")
    elif period not in PERIODS:
        bad("period", f"{period!r} is not one of {', '.join(PERIODS)}")
    elif kpi is not None and period not in kpi.periods:
        bad("period", f"{kpi.id} is reported per {', '.join(kpi.periods)}, not per {period}")
    else:
        text = _text(row, "period_start")
        if not text:
            bad("period_start", "required")
        else:
            try:
                start = parse_period_start(period, text)
            except PeriodError as err:
                bad("period_start", str(err))
            else:
                if start > today:
                    bad("period_start", f"{start.isoformat()} is in the future")
    unit_id = _text(row, "unit_id")
    if unit_id:
        if kpi is not None and not kpi.units:
            bad("unit_id", f"{kpi.id} is province-wide; leave unit_id empty")
        elif not _UNIT.match(unit_id) or (units is not None and unit_id not in units):
            known = f"; known: {', '.join(sorted(units))}" if units else ""
            bad("unit_id", f"unknown unit {unit_id!r}{known}")
    part = _text(row, "breakdown")
    if part and kpi is not None and kpi.breakdown(part) is None:
        parts = ", ".join(b.id for b in kpi.breakdowns) or "none"
        bad("breakdown", f"{kpi.id} has no breakdown {part!r} (it has: {parts})")
    numbers: dict[str, float | None] = {}
    for key in ("value", "numerator", "denominator"):
        try:
            numbers[key] = _number(row, key)
        except ValueError as err:
            bad(key, str(err))
            numbers[key] = math.nan
    value, num, den = numbers["value"], numbers["numerator"], numbers["denominator"]
    if (num is None) != (den is None):
        bad("numerator" if num is None else "denominator",
            "give both numerator and denominator, or neither")
    fraction_ok = num is not None and den is not None and not math.isnan(num + den)
    if fraction_ok:
        if num < 0 or den <= 0:
            bad("denominator" if den <= 0 else "numerator",
                "numerator must be >= 0 and denominator > 0")
            fraction_ok = False
        elif kpi is not None and kpi.is_percent and num > den:
            bad("numerator", f"numerator {_fmt(num)} is larger than denominator {_fmt(den)}")
            fraction_ok = False
    if value is None:
        if fraction_ok and kpi is not None and kpi.is_percent:
            value = round(100 * num / den, 2)  # type: ignore[operator]
        else:
            bad("value", "required (or give numerator and denominator of a percentage)")
    if value is not None and not math.isnan(value) and kpi is not None:
        if value < kpi.minimum or (kpi.maximum is not None and value > kpi.maximum):
            upper = _fmt(kpi.maximum) if kpi.maximum is not None else "∞"
            bad("value", f"{_fmt(value)} is outside {_fmt(kpi.minimum)}..{upper} for {kpi.id}")
        elif kpi.integer and value != int(value):
            bad("value", f"{_fmt(value)}: {kpi.id} counts whole numbers")
    note = _text(row, "note")
    if len(note) > MAX_NOTE:
        bad("note", f"longer than {MAX_NOTE} characters")
    try:
        as_reported = _flag(row, "as_reported")
    except ValueError as err:
        bad("as_reported", str(err))
        as_reported = True  # no second complaint about the fraction for this row
    # Only a percentage has a defined relation to its counts (value = 100·n/d); for other
    # units numerator and denominator are context, shown as given.
    if (fraction_ok and kpi is not None and kpi.is_percent and value is not None
            and not math.isnan(value)):
        conflict = fraction_conflict(value, num, den)  # type: ignore[arg-type]
        if conflict is not None and not as_reported:
            bad("value", conflict)
        elif conflict is not None and not note:
            bad("note", "required with as_reported: say how the reported value differs from "
                        "its counts")
    if problems or kpi is None or start is None or value is None:
        return None, problems
    return KpiValue(kpi_id=kpi.id, period=period, period_start=start, value=value,
                    unit_id=unit_id, breakdown=part, numerator=num, denominator=den,
                    note=note or None), []


def check_rows(rows: Iterable[tuple[int, Mapping[str, object]]], catalogue: Catalogue,
               units: set[str] | None,
               today: dt.date) -> tuple[list[KpiValue], list[RowProblem]]:
    """Every row checked; a key given twice is a problem on its second line."""
    values: list[KpiValue] = []
    problems: list[RowProblem] = []
    first_line: dict[tuple, int] = {}
    for line, row in rows:
        if not isinstance(row, Mapping):
            problems.append(RowProblem(line, "expected an object of column: value"))
            continue
        value, row_problems = check_row(row, line, catalogue, units, today)
        problems.extend(row_problems)
        if value is None:
            continue
        if value.key in first_line:
            problems.append(RowProblem(line, f"the same KPI, unit_id, breakdown and period as "
                                             f"line {first_line[value.key]}"))
            continue
        first_line[value.key] = line
        values.append(value)
    return values, problems


# -- storing --------------------------------------------------------------------------------------
def known_units(conn: psycopg.Connection) -> set[str] | None:
    """Unit ids of the units layer and the device registry; None when there are none."""
    found = {
        r[0] for r in conn.execute(
            "SELECT feature_id FROM layer_features WHERE layer = 'units' "
            "UNION SELECT DISTINCT unit_id FROM devices WHERE unit_id IS NOT NULL"
        )
    }
    return found or None


def _store(conn: psycopg.Connection, values: list[KpiValue], *, source: str, actor: str) -> int:
    kpis = sorted({v.kpi_id for v in values})
    with conn.transaction():
        stored = upsert_values(conn, values, source=source)
        conn.execute(
            "INSERT INTO audit_log (actor, action, target, details) VALUES (%s, %s, %s, %s)",
            (actor, "kpi.import", source,
             json.dumps({"rows": stored, "kpis": kpis}, ensure_ascii=False)),
        )
    return stored


def _import(conn: psycopg.Connection, rows: list[tuple[int, Mapping[str, object]]],
            problems: list[RowProblem], *, source: str, actor: str, unit: str,
            catalogue: Catalogue | None, today: dt.date | None) -> ImportReport:
    catalogue = catalogue or load_catalogue()
    today = today or dt.datetime.now(catalogue.zone).date()
    values, row_problems = check_rows(rows, catalogue, known_units(conn), today)
    problems = problems + row_problems
    problems.sort(key=lambda p: (p.line is not None, p.line or 0))
    if problems:
        return ImportReport(source, len(rows), 0, tuple(problems), unit)
    stored = _store(conn, values, source=source, actor=actor)
    return ImportReport(source, len(rows), stored, (), unit,
                        tuple(sorted({v.kpi_id for v in values})))


def import_rows(conn: psycopg.Connection, rows: Iterable[Mapping[str, object]], *, source: str,
                actor: str | None = None, catalogue: Catalogue | None = None,
                today: dt.date | None = None) -> ImportReport:
    """Check and store rows given as mappings (the HTTP API's JSON objects).

    Keys are the CSV columns (`kpi_id`, `period`, `period_start`, `value`, ... ); values may be
    JSON numbers or strings. Problems count rows from 1. Nothing is stored unless every row is
    good; then all are stored in one transaction (a value for a stored key replaces it) and
    the import is written to the audit log with `actor` (default: `source`).
    """
    numbered = list(enumerate(rows, start=1))
    if len(numbered) > MAX_ROWS:
        return ImportReport(source, len(numbered), 0,
                            (RowProblem(None, f"more than {MAX_ROWS} rows; send fewer"),), "row")
    problems = [] if numbered else [RowProblem(None, "no rows")]
    return _import(conn, numbered, problems, source=source, actor=actor or source, unit="row",
                   catalogue=catalogue, today=today)


def import_csv(conn: psycopg.Connection, data: bytes | str | Path, *, source: str | None = None,
               actor: str | None = None, catalogue: Catalogue | None = None,
               today: dt.date | None = None) -> ImportReport:
    """Check and store a CSV file (a path, or its bytes or text); problems name file lines."""
    if isinstance(data, Path):
        source = source or f"file:{data.name}"
        data = data.read_bytes()
    source = source or "csv"
    rows, problems = read_csv(data)
    if problems and not rows:
        return ImportReport(source, 0, 0, tuple(problems))
    return _import(conn, rows, problems, source=source, actor=actor or source, unit="line",
                   catalogue=catalogue, today=today)
