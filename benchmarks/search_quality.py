"""Retrieval quality on the labelled dev set: hit@1, hit@3, MRR per retriever.

1. Curated catalogue, questions as written and with diacritics stripped.
2. Full catalogue (curated + the 2,642 imported portal procedures), with the
   confusions between near-duplicate variants (cấp tỉnh / cấp xã, có yếu tố
   nước ngoài) counted separately.
Targets (issue 3): hybrid hit@1 >= 0.85 and hit@3 >= 0.95 on the curated
catalogue; stripping diacritics costs at most 5 points.
"""

from __future__ import annotations

import argparse
import time

from common import build_index, dev_questions, imported_sample, table

from knowledge_base import store
from knowledge_base.evaluate import evaluate
from knowledge_base.features import short_name
from knowledge_base.retrieval import Searcher
from vntext import fold_accents


def strip(items: list[dict]) -> list[dict]:
    return [{**it, "question": fold_accents(it["question"])} for it in items]


def report(searcher: Searcher, items: list[dict], label: str) -> list[dict]:
    rows, results = [], {}
    for retriever in ("lexical", "dense", "hybrid"):
        for variant, qs in (("as written", items), ("no diacritics", strip(items))):
            r = evaluate(searcher, qs, retriever=retriever)
            results[(retriever, variant)] = r
            rows.append([retriever, variant, r["n"], f"{r['hit@1']:.3f}", f"{r['hit@3']:.3f}", f"{r['mrr']:.3f}"])
    print(f"\n## {label}\n")
    print(table(rows, ["retriever", "questions", "n", "hit@1", "hit@3", "MRR"]))
    return results[("hybrid", "as written")]["misses"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true", help="print the hybrid misses")
    args = parser.parse_args()
    items = dev_questions()
    curated = store.load_curated()
    print(f"dev set: {len(items)} questions; curated catalogue: {len(curated)} procedures")
    t = time.perf_counter()
    searcher = Searcher(build_index(curated))
    print(f"index build (curated): {time.perf_counter() - t:.1f}s")
    misses = report(searcher, items, "Curated catalogue")
    if args.misses:
        for m in misses:
            print(m)
    imported = imported_sample()
    if imported is None:
        return
    codes = {p.code for p in curated}
    full = curated + [p for p in imported if p.code not in codes]
    t = time.perf_counter()
    searcher = Searcher(build_index(full))
    print(f"\nindex build (full, {len(full)} procedures): {time.perf_counter() - t:.1f}s")
    misses = report(searcher, items, f"Full catalogue ({len(full)} procedures)")
    by_code = {p.code: p for p in full}
    variant = sum(
        1 for m in misses
        if m["got"] and any(
            short_name(by_code[m["got"][0]].name).lower()[:25] == short_name(by_code[g].name).lower()[:25] for g in m["gold"]
        )
    )
    print(f"\nhybrid misses on the full catalogue: {len(misses)}, of which near-duplicate variants of the gold "
          f"procedure (same name start, other level/variant): {variant}")
    if args.misses:
        for m in misses[:40]:
            print(m, [by_code[c].name[:60] for c in m["got"][:1]])


if __name__ == "__main__":
    main()
