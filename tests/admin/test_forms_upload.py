"""The edit form's round trip and validation, and the upload guard against bad files (no server needed)."""

from __future__ import annotations

import gzip
import json

import pytest

from admin import forms, upload
from knowledge_base import store
from tests.admin.support import REPO, to_cp1258
from tests.conftest import shared_path

FIXTURE = REPO / "tests" / "fixtures" / "portal_sample.jsonl"


def _submit(values: dict) -> dict[str, str]:
    """What a browser posts for the values the edit page shows."""
    out = {k: v for k, v in values.items() if k != "channels"}
    for ch in values["channels"]:
        p = f"ch_{ch['code']}_"
        if ch["on"]:
            out[p + "on"] = "1"
        for key in ("note", "dur_value", "dur_max", "dur_unit", "dur_note"):
            out[p + key] = ch[key]
        for i, fee in enumerate(ch["fees"]):
            for key, value in fee.items():
                out[f"{p}fee{i}_{key}"] = value
    return out


@pytest.mark.parametrize("proc", store.load_curated(), ids=lambda p: p.code)
def test_unchanged_form_gives_back_the_same_procedure(proc):
    assert forms.procedure_from_form(_submit(forms.values_from(proc)), proc) == proc


def test_form_errors_are_listed_in_vietnamese():
    proc = next(p for p in store.load_curated() if p.code == "1.001193")
    data = _submit(forms.values_from(proc))
    data.update({"name": " ", "ch_truc_tiep_fee0_kind": "fixed", "ch_truc_tiep_fee0_amount": "hai trăm",
                 "ch_truc_tiep_fee1_kind": "provincial", "ch_truc_tiep_fee1_note": "", "documents": "| 2 | bản sao",
                 "legal_basis": "60/2014/QH13", "source_url": "javascript:alert(1)"})
    with pytest.raises(forms.FormError) as exc:
        forms.procedure_from_form(data, proc)
    text = " ".join(f"{f}: {m}" for f, m in exc.value.errors)
    for expected in ("Tên thủ tục: không được để trống", "không phải là số", "HĐND tỉnh quyết định", "thiếu tên giấy tờ",
                     "số hiệu | tên văn bản", "http:// hoặc https://"):
        assert expected in text, text


def test_html_in_fields_is_kept_as_text():
    proc = next(p for p in store.load_curated() if p.code == "1.001193")
    data = _submit(forms.values_from(proc))
    data["name"] = '<script>alert("x")</script> Đăng ký khai sinh'
    assert forms.procedure_from_form(data, proc).name.startswith("<script>")  # stored as typed; templates escape it


# ---------------------------------------------------------------- uploads
def test_valid_gzip_upload_is_checked():
    report, notes = upload.check(gzip.compress(FIXTURE.read_bytes()), "portal.jsonl.gz")
    assert report.ok and report.records_imported > 0 and any("gzip" in n for n in notes)


def test_gzip_bomb_is_refused_without_inflating_it(monkeypatch):
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024), compresslevel=9)  # 64 MB of newlines in ~64 KB
    assert len(bomb) < 200_000
    with pytest.raises(upload.UploadError, match="bom nén"):
        upload.inflate(bomb, limit=8 * 1024 * 1024)


def test_truncated_gzip_is_refused():
    data = gzip.compress(FIXTURE.read_bytes())
    with pytest.raises(upload.UploadError, match="gzip"):
        upload.prepare(data[: len(data) // 2])


def test_utf16_export_is_converted():
    text = FIXTURE.read_text(encoding="utf-8")
    report, notes = upload.check(text.encode("utf-16"), "excel.jsonl")  # BOM + UTF-16LE, as office software saves
    assert report.ok and any("UTF-16" in n for n in notes)


def test_windows_1258_is_refused_with_advice_then_read_when_chosen():
    text = FIXTURE.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    lines[0]["ten_thu_tuc"] = "Đăng ký kết hôn"  # Windows-1258 can encode every character of this line
    data = to_cp1258(json.dumps(lines[0], ensure_ascii=False) + "\n")
    with pytest.raises(upload.UploadError, match="Windows-1258"):
        upload.prepare(data)
    report, notes = upload.check(data, "cp1258.jsonl", encoding="cp1258")
    assert report.ok and report.procedures[0].name == "Đăng ký kết hôn"  # NFC, not decomposed tone marks


def test_duplicate_codes_and_bad_lines_reject_the_whole_file():
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    data = "\n".join([lines[0], lines[1], lines[0], "{không phải json"]).encode("utf-8")
    report, _ = upload.check(data, "dup.jsonl")
    kinds = {e.kind for e in report.errors}
    assert not report.ok and {"duplicate_code", "bad_json"} <= kinds


def test_empty_upload_is_refused():
    with pytest.raises(upload.UploadError, match="trống"):
        upload.prepare(b"  \n")


def test_real_portal_export_validates():
    path = shared_path("data/tthc/national_catalogue_sample_2642.jsonl.gz", "TTHC_SAMPLE")
    report, _ = upload.check(path.read_bytes(), path.name)
    assert report.ok and report.records_imported == 2642
