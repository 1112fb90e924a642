"""The KPI report as a PDF made on the server: page 1 holds the summary, rendered for real."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from dashboards.kpi_queries import load_page
from dashboards.kpi_report_pdf import ReportFontError, build_pdf, find_fonts, report_meta
from kpi.catalogue import load_catalogue

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def _poppler() -> None:
    if not (shutil.which("pdftoppm") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdftoppm, pdftotext) is not installed: apt-get install "
                    "poppler-utils")
    try:
        find_fonts()
    except ReportFontError as err:
        pytest.skip(str(err))


def _seeded_pdf(db_conn, settings, monkeypatch, lang: str) -> bytes:
    from ioc.cli import main
    from ioc.config import settings_env

    for var, value in settings_env(settings).items():
        monkeypatch.setenv(var, value)
    assert main(["kpi", "seed"]) == 0
    catalogue = load_catalogue()
    data = load_page(db_conn, catalogue, with_units=False)
    meta = report_meta(data, NOW, "Asia/Ho_Chi_Minh", lang)
    return build_pdf(catalogue, data, NOW.date(), meta, lang)


def _page_text(pdf: bytes, tmp_path, page: int) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
                         check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())  # a tile's name may wrap onto two lines


def test_page_one_holds_the_summary_tiles_province_period_and_freshness(
        db_conn, settings, monkeypatch, tmp_path):
    _poppler()
    pdf = _seeded_pdf(db_conn, settings, monkeypatch, "vi")
    assert pdf.startswith(b"%PDF")
    first = _page_text(pdf, tmp_path, 1)
    assert "Báo cáo chỉ số điều hành" in first and "Tỉnh Lào Cai" in first
    assert "Lập lúc 10:00 07/12/2026" in first  # local time, UTC+7
    assert "Số liệu đến ngày" in first and "Số liệu báo cáo nhập lúc" in first
    # the tiles: every KPI of the catalogue is on page 1, with values and old-figure badges
    for kpi in load_catalogue().kpis:
        assert kpi.name.vi in first, kpi.id
    assert "37,0%" in first and "Số liệu cũ (2020)" in first
    assert "Mục tiêu 2026–2030:" in first
    second = _page_text(pdf, tmp_path, 2)
    assert "Các chỉ số theo nhóm" in second and "Giá trị" in second  # the table's header
    # rendered to an image, page 1 is not blank
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1",
                    str(tmp_path / "report.pdf"), str(tmp_path / "page")], check=True)
    (image,) = tmp_path.glob("page*.png")
    from PIL import Image

    with Image.open(image) as img:
        grey = img.convert("L")
        dark = grey.histogram()[:128]
        dark = sum(dark)
    assert dark > 0.01 * grey.width * grey.height


def test_the_report_in_english(db_conn, settings, monkeypatch, tmp_path):
    _poppler()
    first = _page_text(_seeded_pdf(db_conn, settings, monkeypatch, "en"), tmp_path, 1)
    assert "KPI report" in first and "Lào Cai province" in first
    assert "Old figure (2020)" in first
    # a long word ("Digital-transformation") may be split over two lines in a narrow tile
    joined = first.replace(" ", "")
    missing = [k.id for k in load_catalogue().kpis if k.name.en.replace(" ", "") not in joined]
    assert missing == []
