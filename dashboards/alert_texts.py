"""Labels of the operators' alert handling: duty units' names and Dash's dropdown texts.

The texts themselves are in dashboards/locales/<lang>.json."""

from __future__ import annotations

from dashboards import i18n


def duty_name(who: str, lang: str) -> str:
    """A duty unit's name (`truc_ban` -> "Trực ban"); anything else as it is written."""
    key = f"duty.{who}"
    return i18n.t(key, lang) if i18n.has(key) else who


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
