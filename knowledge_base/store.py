"""Where the catalogue lives: curated YAML in the repository, imported portal data on disk.

Curated procedures are reviewed text kept under version control.  Imported
procedures come from an admin's import of the portal export and live in the
data directory (``KB_DATA_DIR``, default ``models/kb``).  Writes are atomic
(temporary file + ``os.replace``) so a failed import can never leave a
half-written live catalogue behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge_base.schema import Procedure

REPO_ROOT = Path(__file__).resolve().parent.parent
CURATED_DIR = Path(__file__).resolve().parent / "catalogue"


class CatalogueError(Exception):
    """A catalogue file is malformed; the message names the file, entry and field."""


def data_dir() -> Path:
    """Directory of built artefacts: imported catalogue and search index."""
    return Path(os.environ.get("KB_DATA_DIR", REPO_ROOT / "models" / "kb"))


def imported_path() -> Path:
    return data_dir() / "imported.jsonl"


def curated_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or CURATED_DIR).glob("*.yaml"))


def load_curated(directory: Path | None = None) -> list[Procedure]:
    """Load and validate every curated YAML file; any error names file, entry and field."""
    procedures: list[Procedure] = []
    seen: dict[str, Path] = {}
    for path in curated_files(directory):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise CatalogueError(f"{path.name}: không đọc được YAML: {exc}") from exc
        for i, entry in enumerate(doc.get("procedures", [])):
            try:
                proc = Procedure(**entry)
            except (ValidationError, TypeError) as exc:
                code = entry.get("code", "?") if isinstance(entry, dict) else "?"
                raise CatalogueError(f"{path.name}: mục #{i + 1} (mã {code}): {exc}") from exc
            if proc.code in seen:
                raise CatalogueError(
                    f"{path.name}: mã {proc.code} trùng với một thủ tục trong {seen[proc.code].name}"
                )
            seen[proc.code] = path
            procedures.append(proc)
    return procedures


def load_imported(path: Path | None = None) -> list[Procedure]:
    """Load the live imported catalogue (empty when nothing was imported yet)."""
    path = path or imported_path()
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [Procedure.model_validate_json(line) for line in fh if line.strip()]


def write_imported(procedures: list[Procedure], source_sha256: str, path: Path | None = None) -> None:
    """Atomically replace the live imported catalogue.

    The new file is written next to the old one and renamed over it, so
    readers see either the old or the new catalogue, never a mix.
    """
    path = path or imported_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".imported-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for proc in sorted(procedures, key=lambda p: p.code):
                fh.write(proc.model_dump_json() + "\n")
        os.replace(tmp, path)
        meta = {"source_sha256": source_sha256, "count": len(procedures)}
        meta_tmp = path.with_suffix(".meta.tmp")
        meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(meta_tmp, path.with_suffix(".meta.json"))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_all(curated_dir: Path | None = None, imported: Path | None = None) -> list[Procedure]:
    """Curated first; an imported record with a curated code is superseded by the curated one."""
    curated = load_curated(curated_dir)
    codes = {p.code for p in curated}
    return curated + [p for p in load_imported(imported) if p.code not in codes]


def catalogue_version(procedures: list[Procedure]) -> str:
    """Content hash of a catalogue: an index built from other content is stale."""
    h = hashlib.sha256()
    for proc in sorted(procedures, key=lambda p: p.code):
        h.update(proc.model_dump_json().encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]
