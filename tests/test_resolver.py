"""The decision between answering, asking which procedure, following up and admitting ignorance."""

from __future__ import annotations

import pytest

from actions.resolver import decide, names_a_procedure, parse_option
from knowledge_base.search import Hit


def hit(code: str, score: float, conf: float) -> Hit:
    return Hit(code=code, name=code, score=score, matched_fields=[], procedure=None, confidence=conf)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [("số 2", 3, 2), ("cái thứ hai", 3, 2), ("cai cuoi", 3, 3), ("3", 3, 3), ("cái đầu tiên", 3, 1), ("số 9", 3, None), ("không biết", 3, None)],
)
def test_parse_option(text, n, expected):
    assert parse_option(text, n) == expected


def test_follow_up_detection():
    assert not names_a_procedure("còn lệ phí thì sao?", None)
    assert not names_a_procedure("nộp ở đâu?", None)
    assert names_a_procedure("đăng ký kết hôn mất bao lâu", None)


def test_decisions():
    kw = {"min_confidence": 0.5, "ambiguity_gap": 0.03, "max_options": 3}
    assert decide("còn lệ phí thì sao", None, [hit("a", 1, 0.9)], True, **kw).kind == "follow_up"
    assert decide("làm sổ đỏ", None, [hit("a", 1.0, 0.9), hit("b", 0.5, 0.9)], False, **kw).kind == "answer"
    d = decide("làm căn cước", None, [hit("a", 1.0, 0.9), hit("b", 0.99, 0.8)], False, **kw)
    assert d.kind == "choose" and [h.code for h in d.hits] == ["a", "b"]
    assert decide("thời tiết hôm nay", None, [hit("a", 1.0, 0.1)], False, **kw).kind == "unknown"
    assert decide("thời tiết hôm nay", None, [], False, **kw).kind == "unknown"
