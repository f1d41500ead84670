"""Helpers shared by the benchmarks: temporary indexes and the dev set."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV_DIR = REPO / "benchmarks" / "data" / "dev"
SHARED = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
TTHC_SAMPLE = Path(os.environ.get("TTHC_SAMPLE", SHARED / "data/tthc/national_catalogue_sample_2642.jsonl.gz"))


def dev_questions() -> list[dict]:
    items = []
    for path in sorted(DEV_DIR.glob("*.jsonl")):
        items += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items


def build_index(procedures):  # noqa: ANN001, ANN201
    """Build an index of ``procedures`` in a throwaway KB_DATA_DIR and load it."""
    from knowledge_base import index as kb_index

    os.environ["KB_DATA_DIR"] = tempfile.mkdtemp(prefix="kb-bench-")
    path = kb_index.build(procedures, log=lambda *_: None)
    return kb_index.load(path, check_catalogue=False)


def imported_sample():  # noqa: ANN201
    """The shared portal sample parsed by the importer (None, with a message, when absent)."""
    if not TTHC_SAMPLE.exists():
        print(f"!! shared sample not found at {TTHC_SAMPLE}: full-catalogue figures skipped")
        return None
    from knowledge_base.importer import import_file

    captured: list = []
    import_file(TTHC_SAMPLE, commit=lambda procs, sha: captured.extend(procs))
    return captured


def table(rows: list[list], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
