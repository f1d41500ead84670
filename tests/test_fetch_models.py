"""`make models` (scripts/fetch_models.py): the Vosk model installs on trust on first use, or a pinned hash."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("fetch_models", REPO / "scripts" / "fetch_models.py")
assert spec and spec.loader
fetch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch)


def archive(path: Path, content: bytes) -> str:
    """A zip shaped like the Vosk release; returns its file:// URL."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{fetch.VOSK_NAME}/am/final.mdl", content)
        zf.writestr(f"{fetch.VOSK_NAME}/conf/model.conf", b"--sample-frequency=16000\n")
    return path.as_uri()


def test_first_fetch_installs_and_records_the_hash(tmp_path: Path) -> None:
    url = archive(tmp_path / "a.zip", b"model v1")
    model = fetch.fetch_vosk(tmp_path / "vosk", url)
    assert (model / "am" / "final.mdl").read_bytes() == b"model v1"
    lock = json.loads((tmp_path / "vosk" / f"{fetch.VOSK_NAME}.lock.json").read_text())
    assert lock == {"url": url, "sha256": hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()}


def test_a_changed_archive_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    dest = tmp_path / "vosk"
    fetch.fetch_vosk(dest, archive(tmp_path / "a.zip", b"model v1"))
    (dest / fetch.VOSK_NAME / "am" / "final.mdl").unlink()  # a later fetch, e.g. on a new server from the same lock
    with pytest.raises(fetch.FetchError, match="changed since it was first fetched"):
        fetch.fetch_vosk(dest, archive(tmp_path / "b.zip", b"model v2 - tampered"))
    assert not (dest / fetch.VOSK_NAME / "am" / "final.mdl").exists()


def test_a_pinned_hash_is_checked_even_on_the_first_fetch(tmp_path: Path) -> None:
    url = archive(tmp_path / "a.zip", b"model v1")
    with pytest.raises(fetch.FetchError, match="does not match the pinned"):
        fetch.fetch_vosk(tmp_path / "vosk", url, pinned="0" * 64)
    good = hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()
    assert (fetch.fetch_vosk(tmp_path / "vosk", url, pinned=good.upper()) / "am" / "final.mdl").exists()


def test_the_command_exits_4_and_installs_nothing_on_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = archive(tmp_path / "a.zip", b"model v1")
    rc = fetch.main(["--only", "vosk", "--vosk-url", url, "--dest", str(tmp_path / "vosk"), "--vosk-sha256", "f" * 64])
    assert rc == 4 and "Nothing was installed" in capsys.readouterr().err
    assert not (tmp_path / "vosk" / fetch.VOSK_NAME).exists()
