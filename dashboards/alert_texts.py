"""Texts of the operators' alert handling (triage, bulk acknowledge, the wall's extreme strip),
added to the shared dictionary in `dashboards.i18n`."""

from __future__ import annotations

from dashboards import i18n

TEXT = {
    "act.ack_device": {"vi": "Tiếp nhận mọi cảnh báo của trạm này",
                       "en": "Acknowledge all of this station"},
    "act.ack_unit": {"vi": "Tiếp nhận mọi cảnh báo của địa bàn này",
                     "en": "Acknowledge all of this area"},
    "act.bulk_done": {"vi": "Đã tiếp nhận {n} cảnh báo.", "en": "{n} alerts acknowledged."},
    "feed.empty": {"vi": "Không có cảnh báo nào khớp bộ lọc.",
                   "en": "No alert matches the filters."},
    "feed.order_hint": {"vi": "Xếp theo: mức độ, chưa tiếp nhận, chờ lâu nhất",
                        "en": "Ordered by severity, unacknowledged, waiting longest"},
    "wall.extreme_title": {"vi": "Khẩn cấp chưa tiếp nhận", "en": "Extreme, unacknowledged"},
    "wall.extreme_none": {"vi": "Không có cảnh báo khẩn cấp chờ tiếp nhận.",
                          "en": "No extreme alert waiting."},
    "wall.escalated_to": {"vi": "Đã báo lên: {who}", "en": "Escalated to {who}"},
    "wall.waiting": {"vi": "chờ {age}", "en": "waiting {age}"},
    "wall.extreme_more": {"vi": "… và {n} cảnh báo khẩn cấp khác", "en": "… and {n} more extreme"},
    "event.reopened": {"vi": "Mở lại (điều kiện vẫn còn)", "en": "Reopened (condition holds)"},
    "duty.truc_ban": {"vi": "Trực ban", "en": "Duty officer"},
    "duty.lanh_dao": {"vi": "Lãnh đạo", "en": "Leadership"},
    "duty.cuu_ho": {"vi": "Đội cứu hộ", "en": "Rescue team"},
    "duty.pccc": {"vi": "Cảnh sát PCCC", "en": "Fire and rescue police"},
    "duty.y_te": {"vi": "Y tế", "en": "Health services"},
    "duty.cong_an": {"vi": "Công an", "en": "Police"},
    "assignee.unit": {"vi": "Đơn vị: {name}", "en": "Unit: {name}"},
    "assignee.person": {"vi": "Người: {name}", "en": "Person: {name}"},
    "act.assignee_unknown": {"vi": "Chỉ giao cho người hoặc đơn vị trong danh sách.",
                             "en": "Assign only to a person or unit from the list."},
    "feed.assigned_to_you": {"vi": "{n} cảnh báo giao cho bạn", "en": "{n} assigned to you"},
    "event.assigned_to": {"vi": "giao cho {who}", "en": "to {who}"},
}
for _key, _value in TEXT.items():
    i18n.TEXT.setdefault(_key, _value)


def duty_name(who: str, lang: str) -> str:
    """A duty unit's name (`truc_ban` -> "Trực ban"); anything else as it is written."""
    key = f"duty.{who}"
    return i18n.t(key, lang) if key in i18n.TEXT else who
