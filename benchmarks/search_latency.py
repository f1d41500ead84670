"""Search latency, index build time and memory at 2.7k procedures and at a synthetic 100k.

Runs on one core (torch and BLAS threads set to 1) because the target is
"p95 <= 30 ms at 2.7k procedures on one core, query embedding included".
The 100k catalogue is synthetic: names recombined from the real sample's
names so the vocabulary and lengths stay realistic.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import build_index, dev_questions, imported_sample, table  # noqa: E402

from knowledge_base import store  # noqa: E402
from knowledge_base.retrieval import Searcher  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def synthetic(procs, n: int, seed: int = 3):  # noqa: ANN001, ANN201
    rng = random.Random(seed)
    words = [p.name.split() for p in procs]
    out = []
    for i in range(n):
        base = rng.choice(procs)
        a, b = rng.choice(words), rng.choice(words)
        name = " ".join(a[: max(2, len(a) // 2)] + b[len(b) // 2 :])
        out.append(base.model_copy(update={"code": f"8.{i:06d}", "name": name, "aliases": [], "curated": False}))
    return out


def measure(label: str, procs, queries: list[str]) -> list:  # noqa: ANN001
    import torch

    torch.set_num_threads(1)
    before = rss_mb()
    t = time.perf_counter()
    searcher = Searcher(build_index(procs))
    build_s = time.perf_counter() - t
    for q in queries[:20]:
        searcher.search(q)  # warm-up
    lat = []
    for q in queries:
        t = time.perf_counter()
        searcher.search(q, k=5)
        lat.append((time.perf_counter() - t) * 1000)
    p50, p95 = np.percentile(lat, [50, 95])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [label, len(procs), f"{build_s:.1f}", f"{p50:.1f}", f"{p95:.1f}", f"{rss_mb() - before:.0f}", f"{peak:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=100_000)
    args = parser.parse_args()
    queries = [q["question"] for q in dev_questions()]
    curated = store.load_curated()
    rows = [measure("curated", curated, queries)]
    imported = imported_sample()
    if imported is not None:
        codes = {p.code for p in curated}
        full = curated + [p for p in imported if p.code not in codes]
        rows.append(measure("curated + portal sample", full, queries))
        if args.synthetic:
            rows.append(measure("synthetic", full + synthetic(full, args.synthetic), queries))
    print(table(rows, ["catalogue", "procedures", "build s", "p50 ms", "p95 ms", "index RSS MB", "peak RSS MB"]))
    print("(one core; hybrid search incl. query embedding; queries: the dev set)")


if __name__ == "__main__":
    main()
