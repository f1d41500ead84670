"""``make models``: fetch the connected-machine models once, then everything runs offline.

- ``bkai-foundation-models/vietnamese-bi-encoder`` (dense search; use with KB_DENSE_MODEL=bkai)
  into ``models/hf/vietnamese-bi-encoder`` at ``BKAI_REVISION``.  The revision could not be
  looked up from the offline development machine, so the default is recorded on first fetch:
  the resolved commit and the SHA-256 of every file go to ``models/hf/vietnamese-bi-encoder.lock.json``
  and later fetches must match it (pin ``BKAI_REVISION`` to that commit in your deployment).
- the Vosk model for the callbot, through ``voice/fetch_models.py`` (pinned SHA-256).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BKAI_ID = "bkai-foundation-models/vietnamese-bi-encoder"
DEST = REPO / "models" / "hf" / "vietnamese-bi-encoder"
LOCK = DEST.with_suffix(".lock.json")


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file() and ".cache" not in p.parts
    }


def fetch_bkai() -> None:
    os.environ.pop("HF_HUB_OFFLINE", None)
    from huggingface_hub import HfApi, snapshot_download

    revision = os.environ.get("BKAI_REVISION", "main")
    commit = HfApi().model_info(BKAI_ID, revision=revision).sha
    print(f"==> {BKAI_ID} @ {commit}")
    snapshot_download(BKAI_ID, revision=commit, local_dir=DEST)
    hashes = file_hashes(DEST)
    if LOCK.exists():
        lock = json.loads(LOCK.read_text())
        if lock["commit"] != commit or lock["files"] != hashes:
            sys.exit(f"{DEST} does not match {LOCK}: refusing a model that changed upstream")
    else:
        LOCK.write_text(json.dumps({"model": BKAI_ID, "commit": commit, "files": hashes}, indent=2))
        print(f"    recorded {LOCK.name}; pin BKAI_REVISION={commit}")


if __name__ == "__main__":
    fetch_bkai()
    subprocess.run([sys.executable, str(REPO / "voice" / "fetch_models.py")], check=True)
