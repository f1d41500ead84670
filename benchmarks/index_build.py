"""Full re-index time and peak memory at 2.7k, 20k and 100k procedures (prints a table).

Each size is built in a fresh child process (``--one N``) so its peak RSS
(``ru_maxrss``, plus the word-segmentation workers) is its own.  2.7k is the
curated catalogue plus the real portal sample (../shared or TTHC_SAMPLE);
20k and 100k are synthetic, made like benchmarks/search_latency.py: names
recombined from the real names, documents and fields of a real record, so
vocabulary and lengths stay realistic.  Target: 100k in under 10 minutes on
2 cores.  ``--sizes 2700,20000`` picks sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

from common import REPO, imported_sample, table

from knowledge_base import store


def catalogue(n: int):  # noqa: ANN201
    imported = imported_sample()
    if imported is None:
        sys.exit("!! the portal sample is needed (../shared/data/tthc or TTHC_SAMPLE)")
    curated = store.load_curated()
    codes = {p.code for p in curated}
    base = curated + [p for p in imported if p.code not in codes]
    if n <= len(base):
        return base[:n]
    rng = random.Random(7)
    words = [p.name.split() for p in base]
    out = list(base)
    for i in range(n - len(base)):
        src = rng.choice(imported)
        a, b = rng.choice(words), rng.choice(words)
        name = " ".join(a[: max(2, len(a) // 2)] + b[len(b) // 2 :])
        out.append(src.model_copy(update={"code": f"8.{i:06d}", "name": name, "aliases": [], "curated": False}))
    return out


def one(n: int) -> None:
    from knowledge_base import index as kb_index

    procs = catalogue(n)
    os.environ["KB_DATA_DIR"] = tempfile.mkdtemp(prefix="kb-build-bench-")
    stages: list[str] = []
    load_before = _loadavg()
    t0 = time.perf_counter()
    kb_index.build(procs, log=lambda *_: None, progress=lambda pct, msg: stages.append(f"{time.perf_counter() - t0:6.1f}s {msg}"))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"n": len(procs), "seconds": seconds, "peak_mb": peak, "worker_peak_mb": workers, "stages": stages,
                      "load": f"{load_before}→{_loadavg()}"}))


def _loadavg() -> str:
    """1-minute load average: the machine is shared, so every figure is printed with it."""
    try:
        return open("/proc/loadavg").read().split()[0]  # noqa: SIM115
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2700,20000,100000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one)
        return
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'benchmarks'}")
        res = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, env=env, timeout=3600)
        if res.returncode != 0:
            print(res.stdout[-2000:], res.stderr[-3000:])
            rows.append([n, "failed", "", "", ""])
            continue
        out = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"\n{out['n']} procedures:\n  " + "\n  ".join(out["stages"]))
        rows.append([out["n"], f"{out['seconds']:.0f}", f"{out['peak_mb']:.0f}", f"{out['worker_peak_mb']:.0f}", out["load"]])
    print(f"\nFull re-index on {os.cpu_count()} cores (target: 100k < 600 s)")
    print(table(rows, ["procedures", "build s", "peak RSS MB", "segmentation worker peak MB", "load average start→end"]))


if __name__ == "__main__":
    main()
