"""The built-in alert titles and history notes, as templates per language (data, no I/O).

Defined once for every package that writes alerts: the rules of `alerts`, and `ioc maintain`
(`ioc.maintain`, its failed-job alert). An alert whose rule has no `title` template gets one
of these: the alert stores its template id and parameters in `details.title_i18n` (``{"template_id": "rain", "params": {...}}``), its
`title` column holds the Vietnamese rendering (what older readers and the CSV show), and any
reader renders it in their own language with `render(template_id, params, lang)`
(`alerts.queries.title_in` does). A parameter named in a template's `labels` holds a label id
(a camera label, an alert kind, an AQI category), translated when the title is rendered.

Numbers are formatted as Python does ("84.2"), exactly as these titles always were.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from ioc.domain import aqi as aqi_mod

LANGUAGES = ("vi", "en")

# template id -> {"vi": ..., "en": ..., "labels": {param: label set}}
TEMPLATES: dict[str, dict[str, Any]] = {
    "level": {"vi": "{name}: {metric} {value:g}", "en": "{name}: {metric} {value:g}"},
    "device": {"vi": "{name}", "en": "{name}"},
    "camera": {"vi": "{name}: {label}", "en": "{name}: {label}",
               "labels": {"label": "camera_label"}},
    "rain": {"vi": "{name}: mưa {mm:.0f} mm trong {window_h} giờ",
             "en": "{name}: {mm:.0f} mm of rain in {window_h} h"},
    "air_quality": {"vi": "{name}: AQI {aqi} – {category}", "en": "{name}: AQI {aqi} – {category}",
                    "labels": {"category": "aqi_category"}},
    "silent": {"vi": "{name}: mất tín hiệu", "en": "{name}: no signal"},
    "disaster_level": {"vi": "{unit_name}: rủi ro thiên tai cấp {level}",
                       "en": "{unit_name}: disaster risk level {level}"},
    "storm": {"vi": "{count} cảnh báo {kind} tại {unit_name}",
              "en": "{count} alerts of {kind} in {unit_name}", "labels": {"kind": "alert_kind"}},
    "cap": {"vi": "Bản tin CAP {identifier} của {sender}",
            "en": "CAP message {identifier} from {sender}"},
    "maintenance_job": {"vi": "Tác vụ bảo trì CSDL lỗi: {job}",
                        "en": "Database maintenance job failed: {job}"},
}

# label set -> label id -> {"vi": ..., "en": ...}
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "camera_label": {
        "fire": {"vi": "cháy", "en": "fire"},
        "smoke": {"vi": "khói", "en": "smoke"},
        "fight": {"vi": "ẩu đả", "en": "fight"},
        "accident": {"vi": "tai nạn", "en": "accident"},
        "wanted_plate": {"vi": "phát hiện biển số bị truy tìm", "en": "wanted plate seen"},
        "crowd": {"vi": "tụ tập đông người", "en": "crowd"},
        "intrusion": {"vi": "xâm nhập", "en": "intrusion"},
        "traffic_violation": {"vi": "vi phạm giao thông", "en": "traffic violation"},
        "other": {"vi": "sự việc khác", "en": "other incident"},
    },
    "alert_kind": {
        "camera_incident": {"vi": "sự việc camera", "en": "camera incidents"},
        "device_silent": {"vi": "thiết bị mất tín hiệu", "en": "silent devices"},
        "water_level": {"vi": "mực nước vượt báo động", "en": "water above alarm levels"},
        "heavy_rain": {"vi": "mưa lớn", "en": "heavy rain"},
        "air_quality": {"vi": "chất lượng không khí", "en": "air quality"},
        "crowding": {"vi": "quá tải điểm du lịch", "en": "crowded sites"},
        "landslide": {"vi": "cảnh báo sạt lở", "en": "landslide warnings"},
        "cap_warning": {"vi": "bản tin cảnh báo", "en": "official warnings"},
        "disaster_level": {"vi": "rủi ro thiên tai", "en": "disaster risk"},
    },
    "aqi_category": {str(c.level): {"vi": c.name_vi, "en": c.name_en}
                     for c in aqi_mod.CATEGORIES},
}

WHOLE_PROVINCE = {"vi": "toàn tỉnh", "en": "whole province"}  # an alert of no one unit

# Notes the rules write into an alert's history when they resolve it (stored in Vietnamese).
NOTES: dict[str, dict[str, str]] = {
    "condition_cleared": {"vi": "điều kiện cảnh báo đã hết", "en": "the condition cleared"},
    "rain_stopped": {"vi": "hết mưa lớn", "en": "heavy rain over"},
    "rain_below": {"vi": "lượng mưa dưới ngưỡng", "en": "rain below the thresholds"},
    "aqi_below": {"vi": "chỉ số {aqi}: {category}", "en": "index {aqi}: {category}"},
    "risk_below": {"vi": "cấp độ rủi ro còn {level}", "en": "risk level down to {level}"},
    "device_back": {"vi": "thiết bị hoạt động trở lại", "en": "the device reports again"},
    "camera_quiet": {"vi": "không có sự việc mới trong {minutes} phút",
                     "en": "no new incident for {minutes} min"},
    "cap_expired": {"vi": "bản tin CAP đã hết hiệu lực", "en": "the CAP message expired"},
    "storm_over": {"vi": "mọi cảnh báo của nhóm đã đóng", "en": "every alert of the group closed"},
}

_FORMAT = string.Formatter()


def label(label_set: str, label_id: Any, lang: str = "vi") -> str:
    """A label in `lang` (Vietnamese when that language lacks it); the id itself if unknown."""
    texts = LABELS.get(label_set, {}).get(str(label_id))
    if texts is None:
        return str(label_id)
    return texts.get(lang) or texts["vi"]


def render(template_id: str, params: Mapping[str, Any], lang: str = "vi") -> str:
    """A built-in title in `lang`; raises KeyError for an unknown template, ValueError and
    friends for parameters that do not fit it."""
    spec = TEMPLATES[template_id]
    template = spec.get(lang) or spec["vi"]
    fields = dict(params)
    for param, label_set in spec.get("labels", {}).items():
        if param in fields:
            fields[param] = label(label_set, fields[param], lang)
    return _FORMAT.vformat(template, (), fields)


def note(note_id: str, lang: str = "vi", **params: Any) -> str:
    """A history note in `lang` (Vietnamese is what the rules store)."""
    texts = NOTES[note_id]
    return (texts.get(lang) or texts["vi"]).format(**params)
