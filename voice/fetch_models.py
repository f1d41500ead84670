"""Download the Vosk Vietnamese model for ``make models`` (never at run time).

Why a checksum: the model is executable input to a C++ decoder and is fetched
over the network once per deployment; an archive that does not match the
pinned SHA-256 is refused and nothing is unpacked.

The checksum below is a PLACEHOLDER: it was not possible to fetch the archive
from this development environment (no internet), so the real value could not
be recorded.  Until it is filled in, the script downloads the archive,
prints its SHA-256 and stops.  To pin it, verify the archive by another
channel (e.g. download it twice from different networks and compare), then
either edit ``PINNED_SHA256`` below or run
``VOSK_MODEL_SHA256=<hash> make models``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

MODEL_NAME = "vosk-model-small-vn-0.4"
MODEL_URL = f"https://alphacephei.com/vosk/models/{MODEL_NAME}.zip"
#: PLACEHOLDER -- replace with the verified SHA-256 of the zip (see docstring).
PINNED_SHA256: str | None = None
DEST = Path("models/vosk")


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
        for member in zf.namelist():
            target = (dest / member).resolve()
            if not str(target).startswith(str(dest.resolve())):
                raise RuntimeError(f"unsafe path in archive: {member}")
        zf.extractall(dest)


def main(argv: list[str] | None = None) -> int:
    """Fetch, verify and unpack the model; returns a process exit code."""
    parser = argparse.ArgumentParser(description="Fetch the Vosk Vietnamese model.")
    parser.add_argument("--dest", type=Path, default=DEST)
    parser.add_argument("--url", default=MODEL_URL)
    parser.add_argument(
        "--sha256",
        default=os.environ.get("VOSK_MODEL_SHA256") or PINNED_SHA256,
        help="expected SHA-256 of the zip (default: pinned value or $VOSK_MODEL_SHA256)",
    )
    args = parser.parse_args(argv)
    model_dir = args.dest / MODEL_NAME
    if (model_dir / "am" / "final.mdl").exists():
        print(f"{model_dir} already present")
        return 0
    args.dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dest) as tmp:
        archive = Path(tmp) / f"{MODEL_NAME}.zip"
        print(f"downloading {args.url}", file=sys.stderr)
        download(args.url, archive)
        actual = sha256_of(archive)
        if not args.sha256:
            print(
                f"SHA-256 of the downloaded archive: {actual}\n"
                "No checksum is pinned yet, so nothing was installed. Verify this value, "
                "then run: VOSK_MODEL_SHA256=<hash> make models (or pin it in "
                "voice/fetch_models.py).",
                file=sys.stderr,
            )
            return 3
        if actual != args.sha256.lower():
            print(f"checksum mismatch: expected {args.sha256}, got {actual}", file=sys.stderr)
            return 4
        staging = Path(tmp) / "unpacked"
        staging.mkdir()
        safe_extract(archive, staging)
        unpacked = staging / MODEL_NAME
        if not (unpacked / "am" / "final.mdl").exists():
            print(f"archive does not contain {MODEL_NAME}/am/final.mdl", file=sys.stderr)
            return 5
        shutil.move(str(unpacked), model_dir)
    print(f"installed {model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
