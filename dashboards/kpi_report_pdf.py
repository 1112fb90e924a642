"""The leadership KPI report as a PDF made on the server (ReportLab): summary first.

Page 1 holds what a reader of the printed report needs at a glance: the province, the period of
the figures, when the report was made, how fresh the data is, and every KPI as a tile (value,
status, period, target). The pages after it hold the table by group with legible headers (dark
on light), the breakdowns and the definitions. A4, light, Vietnamese by default.

The text needs a TrueType font with the Vietnamese letters; ReportLab's built-in fonts have
none. `find_fonts` looks in the usual places (DejaVu, Noto, Liberation from the OS packages:
`fonts-dejavu-core` in the Docker image) and says plainly when there is none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from dashboards.i18n import t
from dashboards.kpi_queries import PageData
from dashboards.kpi_view import Tile, fmt_date, tiles
from kpi.catalogue import Catalogue

# status -> (fill, text) of the tile's chip: the page's colours, darkened for paper
STATUS_PRINT = {"good": ("#1f8f5f", "#ffffff"), "warn": ("#b86e00", "#ffffff"),
                "bad": ("#c0262d", "#ffffff"), "info": ("#1f6fbf", "#ffffff"),
                "none": ("#6b7785", "#ffffff")}
INK, MUTED, RULE, HEAD = "#111820", "#4a5562", "#c9d1da", "#dfe6ee"
FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
     "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)
REGULAR, BOLD = "IocSans", "IocSans-Bold"


class ReportFontError(RuntimeError):
    """No TrueType font with Vietnamese letters was found."""


def find_fonts(candidates: Sequence[tuple[str, str]] = FONT_CANDIDATES) -> tuple[Path, Path]:
    for regular, bold in candidates:
        if Path(regular).is_file() and Path(bold).is_file():
            return Path(regular), Path(bold)
    raise ReportFontError(
        "no font with Vietnamese letters for the PDF report: install fonts-dejavu-core "
        f"(looked for {', '.join(r for r, _ in candidates)})")


def _register_fonts() -> None:
    if REGULAR in pdfmetrics.getRegisteredFontNames():
        return
    regular, bold = find_fonts()
    pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
    pdfmetrics.registerFont(TTFont(BOLD, str(bold)))


@dataclass(frozen=True)
class ReportMeta:
    """What the header says: whose report, of when, made when, how fresh its data is."""

    province: str
    figures_of: str  # e.g. "ngày 07/12/2026"
    generated: str  # local time text
    freshness: str


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9.5, leading=12, textColor=INK,
                          alignment=TA_LEFT)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=20, leading=24),
        "meta": ParagraphStyle("meta", parent=base, fontSize=10.5, leading=14, textColor=MUTED),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=13, leading=17,
                             spaceBefore=8, spaceAfter=4),
        "tile_group": ParagraphStyle("tile_group", parent=base, fontSize=6.2, leading=7.4,
                                     textColor=MUTED),
        "tile_name": ParagraphStyle("tile_name", parent=base, fontName=BOLD, fontSize=8,
                                    leading=9.4),
        "tile_value": ParagraphStyle("tile_value", parent=base, fontName=BOLD, fontSize=15,
                                     leading=18),
        "tile_small": ParagraphStyle("tile_small", parent=base, fontSize=7, leading=8.4,
                                     textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.8, leading=10.8),
        "head": ParagraphStyle("head", parent=base, fontName=BOLD, fontSize=9, leading=11),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10, textColor=MUTED),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _value_text(tile: Tile) -> str:
    if not tile.unit:
        return tile.value
    return tile.value + tile.unit if tile.unit == "%" or tile.unit.startswith("/") \
        else f"{tile.value} {tile.unit}"


def _tile_cell(tile: Tile, group: str, s: dict[str, ParagraphStyle], width: float) -> Table:
    fill, ink = STATUS_PRINT.get(tile.status, STATUS_PRINT["none"])
    chip = Paragraph(f'<font color="{ink}">{_esc(tile.status_text)}</font>',
                     ParagraphStyle("chip", parent=s["tile_small"], fontName=BOLD,
                                    textColor=ink))
    period = tile.period + (f" · {tile.stale}" if tile.stale else "")
    rows = [[Paragraph(_esc(group.upper()), s["tile_group"])],
            [Paragraph(_esc(tile.name), s["tile_name"])],
            [Paragraph(_esc(_value_text(tile)), s["tile_value"])],
            [chip],
            [Paragraph(_esc(period), s["tile_small"])],
            [Paragraph(_esc(tile.target), s["tile_small"])]]
    cell = Table(rows, colWidths=[width - 4])
    cell.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor(RULE)),
        ("LINEBEFORE", (0, 0), (0, -1), 4, colors.HexColor(fill)),
        ("BACKGROUND", (0, 3), (0, 3), colors.HexColor(fill)),
        ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return cell


def _summary(catalogue: Catalogue, by_group: dict[str, list[Tile]],
             s: dict[str, ParagraphStyle], width: float, lang: str) -> list:
    """Page 1's tiles: every KPI, five to a row, in the catalogue's group order."""
    per_row = 5
    col = width / per_row
    cells = [_tile_cell(x, group.name.get(lang), s, col)
             for group in catalogue.groups for x in by_group.get(group.id) or []]
    if not cells:
        return []
    rows = [cells[i:i + per_row] for i in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    grid = Table(rows, colWidths=[col] * per_row)
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
    return [grid]


def _kpi_table(catalogue: Catalogue, by_group: dict[str, list[Tile]],
               s: dict[str, ParagraphStyle], width: float, lang: str) -> Table:
    columns = ("kpi", "value", "period", "target", "status")
    widths = [0.30, 0.13, 0.17, 0.26, 0.14]
    data: list[list] = [[Paragraph(_esc(t(f"kpi.col.{c}", lang)), s["head"]) for c in columns]]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(HEAD)),
        ("LINEBELOW", (0, 0), (-1, 0), 1.2, colors.HexColor(INK)),
        ("GRID", (0, 1), (-1, -1), 0.4, colors.HexColor(RULE)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for group in catalogue.groups:
        group_tiles = by_group.get(group.id) or []
        if not group_tiles:
            continue
        style.append(("SPAN", (0, len(data)), (-1, len(data))))
        style.append(("BACKGROUND", (0, len(data)), (-1, len(data)), colors.HexColor("#eef2f6")))
        data.append([Paragraph(_esc(group.name.get(lang)), s["head"]), "", "", "", ""])
        for x in group_tiles:
            fill, _ink = STATUS_PRINT.get(x.status, STATUS_PRINT["none"])
            data.append([
                Paragraph(_esc(x.name), s["cell"]),
                Paragraph(_esc(_value_text(x)), s["cell"]),
                Paragraph(_esc(x.period + (f" · {x.stale}" if x.stale else "")), s["cell"]),
                Paragraph(_esc(x.target_value), s["cell"]),
                Paragraph(f'<font color="{fill}"><b>{_esc(x.status_text)}</b></font>',
                          s["cell"]),
            ])
    table = Table(data, colWidths=[w * width for w in widths], repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def build_pdf(catalogue: Catalogue, data: PageData, today: dt.date, meta: ReportMeta,
              lang: str) -> bytes:
    """The report as PDF bytes (ReportFontError when no Vietnamese font is installed)."""
    _register_fonts()
    s = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm,
                            topMargin=13 * mm, bottomMargin=14 * mm,
                            title=t("kpi.report_title", lang), author=meta.province,
                            subject=meta.figures_of)
    width = doc.width
    by_group = tiles(catalogue, data, today, lang)

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 7.5)
        canvas.setFillColor(colors.HexColor(MUTED))
        canvas.drawString(doc.leftMargin, 8 * mm,
                          f"{meta.province} · {t('kpi.report_title', lang)} · {meta.generated}")
        canvas.drawRightString(doc.leftMargin + width, 8 * mm,
                               t("kpi.pdf.page", lang, n=document.page))
        canvas.restoreState()

    story: list = [
        Paragraph(_esc(t("kpi.report_title", lang)), s["title"]),
        Paragraph(_esc(f"{meta.province} · {meta.figures_of}"), s["meta"]),
        Paragraph(_esc(meta.generated), s["meta"]),
        Paragraph(_esc(meta.freshness), s["meta"]),
        Spacer(1, 3 * mm),
        *_summary(catalogue, by_group, s, width, lang),
        Paragraph(_esc(t("kpi.demo_note", lang)), s["note"]),
        PageBreak(),
        Paragraph(_esc(t("kpi.pdf.table", lang)), s["h2"]),
        _kpi_table(catalogue, by_group, s, width, lang),
    ]
    for kpi in catalogue.kpis:
        parts = data.parts.get(kpi.id) or []
        if not parts:
            continue
        rows = [[Paragraph(_esc(kpi.breakdown(p.breakdown).name.get(lang)
                                if kpi.breakdown(p.breakdown) else p.breakdown), s["cell"]),
                 Paragraph(f"{p.value:g}".replace(".", "," if lang == "vi" else "."),
                           s["cell"])] for p in parts]
        part_table = Table(rows, colWidths=[0.6 * width, 0.2 * width])
        part_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4,
                                         colors.HexColor(RULE))]))
        story.append(KeepTogether([
            Paragraph(_esc(t("kpi.breakdown", lang, name=kpi.name.get(lang))), s["h2"]),
            part_table]))
    story.append(Paragraph(_esc(t("kpi.definitions", lang)), s["h2"]))
    for k in catalogue.kpis:
        story.append(Paragraph(
            f"<b>{_esc(k.name.get(lang))}</b>: {_esc(k.definition.get(lang))} "
            f"{_esc(t('kpi.col.source', lang))}: {_esc(k.source_detail.get(lang))}.",
            s["note"]))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def report_meta(data: PageData, now: dt.datetime, tz: str, lang: str) -> ReportMeta:
    """The header texts, in local time (storage is UTC)."""
    zone = ZoneInfo(tz)

    def local(value: dt.datetime | None) -> str:
        return value.astimezone(zone).strftime("%H:%M %d/%m/%Y") if value else "–"

    fresh = data.fresh
    parts = [t("kpi.updated", lang, time=local(fresh.telemetry_at)) if fresh.telemetry_at
             else t("kpi.not_refreshed", lang)]
    if fresh.import_at:
        parts.append(t("kpi.imported", lang, time=local(fresh.import_at),
                       source=fresh.import_source or "–"))
    day = data.day or now.astimezone(zone).date()
    return ReportMeta(
        province=t("province", lang),
        figures_of=t("kpi.pdf.figures_of", lang, day=fmt_date(day)),
        generated=t("kpi.generated", lang, time=local(now)),
        freshness=" · ".join(parts),
    )


# -- the route ------------------------------------------------------------------------------------
def pdf_view():
    """`GET /kpi/report.pdf[?lang=en][&area=...]`: the report for the roles that may view the
    KPI page, of the province, one unit or a group of units (`area` as on the page)."""
    from flask import Response, request

    from dashboards.context import context
    from dashboards.i18n import pick_language
    from dashboards.kpi_queries import area_name, load_page, load_units, local_today, unit_groups
    from kpi.areas import AreaError, parse_area
    from kpi.catalogue import load_catalogue
    from kpi.targets import effective_catalogue

    settings = context().settings
    lang = pick_language(request.args.get("lang"), settings.web.language)
    now = dt.datetime.now(dt.UTC)
    with context().pool.connection() as conn:
        catalogue = effective_catalogue(conn, load_catalogue())
        units = load_units(conn)
        try:
            area = parse_area(request.args.get("area"),
                              [str(f["properties"]["id"]) for f in units.get("features", [])],
                              unit_groups())
        except AreaError as err:
            return Response(f"area: {err}", status=400, mimetype="text/plain")
        data = load_page(conn, catalogue, with_units=False, area=area)
    today = local_today(settings.web.timezone, now)
    meta = report_meta(data, now, settings.web.timezone, lang)
    if not area.is_province:
        meta = dataclasses.replace(
            meta, province=f"{meta.province} · {t('kpi.area', lang)}: "
                           f"{area_name(area, units, lang)}")
    try:
        body = build_pdf(catalogue, data, today, meta, lang)
    except ReportFontError as err:
        return Response(str(err), status=503, mimetype="text/plain")
    name = f"bao-cao-chi-so-{today.isoformat()}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


def register_kpi_report_routes(server) -> None:
    from dashboards import auth

    server.add_url_rule("/kpi/report.pdf", "kpi_report_pdf", auth.require_page("kpi")(pdf_view),
                        methods=["GET"])
