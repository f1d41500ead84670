"""``make models``: fetch the connected-machine models once, then everything runs offline.

One script for every model, with one trust rule: trust on first use (TOFU).  The first
download records what was fetched in a lock file next to the model; every later fetch must
match it, and a changed download is refused with a message saying what changed and what to
do.  An operator who knows the right value can pin it instead (then even the first fetch is
checked).  Nothing is downloaded at run time.

- ``bkai-foundation-models/vietnamese-bi-encoder`` (dense search; use with KB_DENSE_MODEL=bkai)
  into ``models/hf/vietnamese-bi-encoder``: the resolved commit and the SHA-256 of every file go
  to ``models/hf/vietnamese-bi-encoder.lock.json``; pin with ``BKAI_REVISION=<commit>``.
- the Vosk model for the callbot (``vosk-model-small-vn-0.4.zip``) into ``models/vosk/``: the
  archive's SHA-256 goes to ``models/vosk/vosk-model-small-vn-0.4.lock.json``; pin with
  ``VOSK_MODEL_SHA256=<hash>`` (or ``--vosk-sha256``).

Usage: ``python scripts/fetch_models.py [--only vosk|bkai] [--vosk-url URL] [--dest DIR]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BKAI_ID = "bkai-foundation-models/vietnamese-bi-encoder"
BKAI_DEST = REPO / "models" / "hf" / "vietnamese-bi-encoder"
VOSK_NAME = "vosk-model-small-vn-0.4"
VOSK_URL = f"https://alphacephei.com/vosk/models/{VOSK_NAME}.zip"
VOSK_DEST = REPO / "models" / "vosk"


class FetchError(RuntimeError):
    """A download that must not be installed; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, target: Path) -> None:
    """Stream ``url`` to ``target`` with a progress line on stderr."""
    with urllib.request.urlopen(url, timeout=60) as resp, target.open("wb") as out:  # noqa: S310
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        while block := resp.read(1 << 20):
            out.write(block)
            done += len(block)
            if total:
                print(f"\r{done >> 20}/{total >> 20} MiB", end="", file=sys.stderr)
    print(file=sys.stderr)


def safe_extract(archive: Path, dest: Path) -> None:
    """Unzip refusing absolute paths and ``..`` (zip-slip)."""
    with zipfile.ZipFile(archive) as zf:
        root = dest.resolve()
        for member in zf.namelist():
            if not (dest / member).resolve().is_relative_to(root):
                raise FetchError(f"unsafe path in archive: {member}")
        zf.extractall(dest)


def check_trust(actual: str, lock: Path, pinned: str | None, what: str) -> None:
    """Trust on first use: the pinned hash, else the recorded one, else record this one."""
    if pinned:
        if actual != pinned.lower():
            raise FetchError(
                f"{what}: SHA-256 {actual} does not match the pinned {pinned.lower()}. Nothing was installed. "
                "Check the pinned value (VOSK_MODEL_SHA256 / --vosk-sha256) and where the download came from."
            )
        return
    if lock.exists():
        recorded = json.loads(lock.read_text(encoding="utf-8"))["sha256"]
        if actual != recorded:
            raise FetchError(
                f"{what}: the archive changed since it was first fetched (recorded {recorded}, now {actual}). "
                f"Nothing was installed. If the publisher really replaced it, verify the new archive by another "
                f"channel, then delete {lock} (or pin VOSK_MODEL_SHA256=<new hash>) and run make models again."
            )


def record_trust(actual: str, lock: Path, url: str) -> None:
    if not lock.exists():
        lock.write_text(json.dumps({"url": url, "sha256": actual}, indent=2) + "\n", encoding="utf-8")
        print(f"    recorded {lock.name} (sha256 {actual}); later fetches must match it")


def fetch_vosk(dest: Path = VOSK_DEST, url: str = VOSK_URL, pinned: str | None = None) -> Path:
    """Download, check (pinned or TOFU) and unpack the Vosk model; returns its directory."""
    model_dir = dest / VOSK_NAME
    lock = dest / f"{VOSK_NAME}.lock.json"
    if (model_dir / "am" / "final.mdl").exists():
        print(f"==> {model_dir} already present")
        return model_dir
    dest.mkdir(parents=True, exist_ok=True)
    print(f"==> {url}")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / f"{VOSK_NAME}.zip"
        download(url, archive)
        actual = sha256_of(archive)
        check_trust(actual, lock, pinned, f"{VOSK_NAME}.zip")
        staging = Path(tmp) / "unpacked"
        staging.mkdir()
        safe_extract(archive, staging)
        unpacked = staging / VOSK_NAME
        if not (unpacked / "am" / "final.mdl").exists():
            raise FetchError(f"the archive does not contain {VOSK_NAME}/am/final.mdl; nothing was installed")
        shutil.move(str(unpacked), model_dir)
        record_trust(actual, lock, url)
    print(f"    installed {model_dir}")
    return model_dir


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_of(p)
        for p in sorted(root.rglob("*")) if p.is_file() and ".cache" not in p.parts
    }


def fetch_bkai(dest: Path = BKAI_DEST) -> None:
    """Snapshot the bkai encoder at a resolved commit; TOFU on the commit and every file's hash."""
    os.environ.pop("HF_HUB_OFFLINE", None)
    from huggingface_hub import HfApi, snapshot_download

    lock = dest.with_suffix(".lock.json")
    revision = os.environ.get("BKAI_REVISION", "main")
    commit = HfApi().model_info(BKAI_ID, revision=revision).sha
    print(f"==> {BKAI_ID} @ {commit}")
    snapshot_download(BKAI_ID, revision=commit, local_dir=dest)
    hashes = file_hashes(dest)
    if lock.exists():
        recorded = json.loads(lock.read_text(encoding="utf-8"))
        if recorded["commit"] != commit or recorded["files"] != hashes:
            raise FetchError(f"{dest} does not match {lock}: refusing a model that changed upstream "
                             f"(delete the lock only after checking the new revision)")
    else:
        lock.write_text(json.dumps({"model": BKAI_ID, "commit": commit, "files": hashes}, indent=2), encoding="utf-8")
        print(f"    recorded {lock.name}; pin BKAI_REVISION={commit}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the models (trust on first use, or pinned hashes).")
    parser.add_argument("--only", choices=["vosk", "bkai"])
    parser.add_argument("--vosk-url", default=VOSK_URL)
    parser.add_argument("--vosk-sha256", default=os.environ.get("VOSK_MODEL_SHA256") or None)
    parser.add_argument("--dest", type=Path, default=VOSK_DEST, help="where the Vosk model goes")
    args = parser.parse_args(argv)
    try:
        if args.only in (None, "bkai"):
            fetch_bkai()
        if args.only in (None, "vosk"):
            fetch_vosk(args.dest, args.vosk_url, args.vosk_sha256)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
