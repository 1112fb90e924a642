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
    "feed.sound": {"vi": "Âm báo khi có cảnh báo khẩn cấp mới",
                   "en": "Chime for a new extreme alert"},
    "feed.first_only": {"vi": "(hiện {n} cảnh báo đầu theo thứ tự này)",
                        "en": "(the first {n} in this order shown)"},
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
    # sortable tables (feed, police queue, device health)
    "feed.sorted_hint": {"vi": "Xếp theo cột đã chọn (bấm lại tiêu đề để đổi chiều)",
                         "en": "Sorted by the chosen column (click its header again to reverse)"},
    "police.sorted_hint": {"vi": "trang này xếp theo cột đã chọn",
                           "en": "this page sorted by the chosen column"},
    "table.sort_hint": {"vi": "Bấm tiêu đề cột để sắp xếp", "en": "Click a column header to sort"},
}
for _key, _value in TEXT.items():
    i18n.TEXT.setdefault(_key, _value)


def duty_name(who: str, lang: str) -> str:
    """A duty unit's name (`truc_ban` -> "Trực ban"); anything else as it is written."""
    key = f"duty.{who}"
    return i18n.t(key, lang) if key in i18n.TEXT else who


# Dash's own texts inside a dropdown (English by default in Dash), per language.
DROPDOWN_LABELS = {
    "vi": {"select_all": "Chọn tất cả", "deselect_all": "Bỏ chọn tất cả",
           "selected_count": "Đã chọn {num_selected}", "search": "Tìm",
           "clear_search": "Xoá tìm kiếm", "clear_selection": "Bỏ chọn",
           "no_options_found": "Không có lựa chọn nào"},
    "en": {"select_all": "Select all", "deselect_all": "Deselect all",
           "selected_count": "{num_selected} selected", "search": "Search",
           "clear_search": "Clear search", "clear_selection": "Clear selection",
           "no_options_found": "No options found"},
}


def dropdown_labels(lang: str) -> dict[str, str]:
    """`labels` for dcc.Dropdown in the page's language."""
    return DROPDOWN_LABELS.get(lang, DROPDOWN_LABELS["vi"])
