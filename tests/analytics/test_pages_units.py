"""The analytics pages' pieces without servers: SVG charts, grouping of phrasings, CSV cells.

Why: the charts carry data-derived labels into HTML (they must be escaped), the grouping decides
what an editor sees together, and a citizen's text in a CSV must not run as a spreadsheet formula.
"""

from __future__ import annotations

from admin.analytics import _cell
from admin.analytics_charts import hbars, line, stacked_bars
from admin.analytics_groups import group, group_id
from admin.analytics_store import Phrasing


def test_chart_labels_are_escaped_and_nothing_is_loaded_from_elsewhere() -> None:
    evil = '<script>alert(1)</script>"'
    svg = str(stacked_bars(["2026-12-01", "2026-12-02"], {evil: [1, 2]}, "t") + hbars([(evil, 3)], "t")
              + line(["2026-12-01"], [50.0], "t"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "href" not in svg and "style=" not in svg  # presentation attributes only (the CSP forbids inline style)


def test_bars_scale_to_round_ticks() -> None:
    svg = str(stacked_bars(["a", "b"], {"rest": [7, 0]}, "t"))
    assert ">8</text>" in svg and ">2</text>" in svg and ">1.75</text>" not in svg


def test_similar_phrasings_are_grouped_most_frequent_first() -> None:
    ps = [Phrasing("gia ve tau hoa di hue bao nhieu tien", 3, "giá vé tàu hỏa đi Huế bao nhiêu tiền"),
          Phrasing("gia ve tau hoa di da nang bao nhieu tien", 1, "giá vé tàu hỏa đi Đà Nẵng bao nhiêu tiền"),
          Phrasing("doi bong nao vo dich", 2, "đội bóng nào vô địch"),
          Phrasing("cho em hoi gia ve tau hoa di hue a", 1, "cho em hỏi giá vé tàu hỏa đi Huế ạ")]
    groups = group(ps)
    assert [(g.count, g.leader.key) for g in groups] == [(5, "gia ve tau hoa di hue bao nhieu tien"),
                                                         (2, "doi bong nao vo dich")]
    assert groups[0].id == group_id("gia ve tau hoa di hue bao nhieu tien")
    assert len(groups[0].examples) == 3 and groups[0].examples[0].count == 3
    assert group([]) == []


def test_csv_cells_never_start_a_formula() -> None:
    assert [_cell(v) for v in ("=HYPERLINK(\"x\")", "+84", "-1", "@a", "bình thường", 7)] == \
        ["'=HYPERLINK(\"x\")", "'+84", "'-1", "'@a", "bình thường", 7]
