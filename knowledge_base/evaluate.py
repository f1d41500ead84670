"""Retrieval quality: hit@1, hit@3 and MRR of a searcher on labelled questions."""

from __future__ import annotations

import json
from pathlib import Path

from knowledge_base.retrieval import Searcher


class EvalFileError(ValueError):
    """A line of an evaluation file is not {"question": str, "codes": [str, ...]}."""


def load_questions(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{n}: JSON không hợp lệ: {exc.msg}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item.get("codes"):
            raise EvalFileError(f"{path}:{n}: cần các trường 'question' (chuỗi) và 'codes' (danh sách mã)")
        items.append(item)
    return items


def evaluate(searcher: Searcher, items: list[dict], retriever: str = "hybrid", k: int = 10) -> dict:
    """Hit@1, hit@3 and MRR@k, plus the misses for inspection."""
    hit1 = hit3 = 0
    rr = 0.0
    misses = []
    for item in items:
        gold = set(item["codes"])
        codes = [h.code for h in searcher.search(item["question"], k=k, retriever=retriever)]
        rank = next((r for r, c in enumerate(codes, 1) if c in gold), None)
        if rank == 1:
            hit1 += 1
        if rank is not None and rank <= 3:
            hit3 += 1
        if rank is not None:
            rr += 1.0 / rank
        if rank != 1:
            misses.append({"question": item["question"], "gold": sorted(gold), "got": codes[:3], "rank": rank})
    n = max(len(items), 1)
    return {"n": len(items), "hit@1": hit1 / n, "hit@3": hit3 / n, "mrr": rr / n, "misses": misses}
