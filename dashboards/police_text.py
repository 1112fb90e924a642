"""Texts of the police queue, watchlist and search (added to dashboards.i18n.TEXT).

Kept beside the police page rather than in i18n.py so the parallel pages merge cleanly.
"""

from __future__ import annotations

from dashboards.i18n import TEXT

TEXT.update({
    "police.hit": {"vi": "TRUY TÌM", "en": "WANTED"},
    "police.col.priority_text": {"vi": "Ưu tiên", "en": "Priority"},
    "police.col.unit": {"vi": "Xã, phường", "en": "Commune"},
    "police.all_units": {"vi": "Mọi xã, phường", "en": "All communes"},
    "police.view.queue": {"vi": "Hàng chờ quyết định", "en": "Decision queue"},
    "police.view.all": {"vi": "Tìm trong mọi phát hiện", "en": "Search all detections"},
    "police.plate_search": {"vi": "Tìm biển số (vd. 24A-686.68)",
                            "en": "Plate (e.g. 24A-686.68)"},
    "police.queue_count": {"vi": "{n} sự vụ cần quyết định", "en": "{n} incidents to decide"},
    "police.queue_count_state": {"vi": "{n} sự vụ trong hàng chờ",
                                 "en": "{n} queued incidents"},
    "police.search_count": {"vi": "{n} phát hiện", "en": "{n} detections"},
    "police.detections": {"vi": "{n} phát hiện thường trong kỳ (không vào hàng chờ: {m})",
                          "en": "{n} detections in the period ({m} not queued)"},
    "police.page": {"vi": "Trang {p}/{pages}", "en": "Page {p} of {pages}"},
    "police.state_placeholder": {"vi": "Trạng thái (hàng chờ: chưa xác minh)",
                                 "en": "State (queue: unreviewed)"},
    "police.banner": {"vi": "BIỂN SỐ TRUY TÌM: {plate} – {camera}, {time} ({reason})",
                      "en": "WANTED PLATE: {plate} – {camera}, {time} ({reason})"},
    "police.banner_more": {"vi": "và {n} lần ghi nhận khác", "en": "and {n} more sightings"},
    "police.sound": {"vi": "Phát âm thanh khi có biển số truy tìm",
                     "en": "Sound on a wanted plate"},
    "police.fact.watch": {"vi": "Danh sách truy tìm", "en": "Watchlist"},
    "police.watch.title": {"vi": "Danh sách biển số truy tìm", "en": "Plate watchlist"},
    "police.watch.plate": {"vi": "Biển số", "en": "Plate"},
    "police.watch.reason": {"vi": "Lý do (bắt buộc)", "en": "Reason (required)"},
    "police.watch.days": {"vi": "Hết hạn sau (ngày, trống: không hạn)",
                          "en": "Expires after (days, empty: never)"},
    "police.act.watch_add": {"vi": "Thêm vào danh sách", "en": "Add to the list"},
    "police.act.watch_remove": {"vi": "Gỡ khỏi danh sách", "en": "Remove"},
    "police.watch.added": {"vi": "Đã thêm {plate} vào danh sách truy tìm.",
                           "en": "{plate} added to the watchlist."},
    "police.watch.removed": {"vi": "Đã gỡ {plate} khỏi danh sách truy tìm.",
                             "en": "{plate} removed from the watchlist."},
    "police.watch.entry": {"vi": "{plate} · {reason} · thêm bởi {actor} {time}{expiry}",
                           "en": "{plate} · {reason} · added by {actor} {time}{expiry}"},
    "police.watch.expires": {"vi": " · hết hạn {time}", "en": " · expires {time}"},
    "police.watch.empty": {"vi": "Danh sách trống.", "en": "The list is empty."},
    "police.watch.pick": {"vi": "Chọn biển số để gỡ", "en": "Pick a plate to remove"},
    "police.media.clip": {"vi": "Đoạn video", "en": "Video clip"},
})
