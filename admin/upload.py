"""Reading an uploaded portal export safely: size limits, gzip bombs, encodings.

Why a layer in front of the importer: the importer trusts the bytes it is
given to be a reasonable file, but an upload comes from anyone with an
editor account and from office software.  So before parsing:

* the upload itself is limited by the web server (``ADMIN_MAX_UPLOAD_MB``);
* gzip is inflated in bounded steps and refused past ``ADMIN_MAX_UNPACKED_MB``
  (a gzip bomb of a few kilobytes would otherwise inflate to gigabytes);
* UTF-16 (with a byte-order mark, as Excel and Notepad write it) is
  converted; Windows-1258 cannot be recognised reliably, so a non-UTF-8 file
  is refused with a message naming the line, unless the admin chose
  Windows-1258 explicitly, in which case it is decoded and normalised to NFC
  (Windows-1258 writes tone marks as combining characters).
"""

from __future__ import annotations

import os
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.importer import ImportReport, import_file

MAX_UPLOAD_MB = int(os.environ.get("ADMIN_MAX_UPLOAD_MB", "64"))
MAX_UNPACKED_MB = int(os.environ.get("ADMIN_MAX_UNPACKED_MB", "512"))
ENCODINGS = {"auto": "Tự nhận biết (UTF-8 / UTF-16)", "utf-8": "UTF-8", "utf-16": "UTF-16", "cp1258": "Windows-1258"}


class UploadError(Exception):
    """The upload cannot be read at all; the message says why and what to do."""


@dataclass
class Prepared:
    data: bytes  # UTF-8 JSONL
    notes: list[str]


def inflate(data: bytes, limit: int | None = None) -> bytes:
    """Gunzip (all members) without ever holding more than ``limit`` bytes of output."""
    limit = limit or MAX_UNPACKED_MB * 1024 * 1024
    out = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk_in = rest
        try:
            while chunk_in:
                piece = d.decompress(chunk_in, 1024 * 1024)
                out += piece
                if len(out) > limit:
                    raise UploadError(
                        f"Tệp nén giải nén ra hơn {limit // (1024 * 1024)} MB: từ chối (có thể là «bom nén»). "
                        "Tệp xuất của Cổng cho 2.642 thủ tục chỉ khoảng 40 MB."
                    )
                chunk_in = d.unconsumed_tail
            while not d.eof:
                piece = d.decompress(b"", 1024 * 1024)  # output zlib still holds, in bounded pieces
                if not piece:
                    break
                out += piece
                if len(out) > limit:
                    raise UploadError(f"Tệp nén giải nén ra hơn {limit // (1024 * 1024)} MB: từ chối (có thể là «bom nén»).")
        except zlib.error as exc:
            raise UploadError(f"Tệp gzip hỏng hoặc bị cắt: {exc}.") from exc
        if not d.eof:
            raise UploadError("Tệp gzip bị cắt giữa chừng: hãy tải lên lại tệp đầy đủ.")
        rest = d.unused_data.lstrip(b"\x00")
        if rest and rest[:2] != b"\x1f\x8b":
            raise UploadError("Sau dữ liệu gzip còn dữ liệu lạ: tệp hỏng.")
    return bytes(out)


def _first_bad_line(data: bytes) -> tuple[int, int]:
    for n, line in enumerate(data.split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return n, line[exc.start]
    return 0, 0


def prepare(data: bytes, encoding: str = "auto") -> Prepared:
    """The upload as UTF-8 JSONL bytes, or :class:`UploadError`."""
    notes: list[str] = []
    if not data.strip():
        raise UploadError("Tệp trống.")
    if data[:2] == b"\x1f\x8b":
        data = inflate(data)
        notes.append(f"đã giải nén gzip ({len(data) / 1e6:.1f} MB)")
    if encoding not in ENCODINGS:
        raise UploadError("Mã hóa không hợp lệ.")
    if encoding in {"auto", "utf-16"} and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    try:
        if encoding == "utf-16":
            text = data.decode("utf-16")
            notes.append("đã chuyển từ UTF-16 sang UTF-8")
        elif encoding == "cp1258":
            text = unicodedata.normalize("NFC", data.decode("cp1258"))
            notes.append("đã chuyển từ Windows-1258 sang UTF-8 (chuẩn hóa NFC)")
        else:
            if data.count(b"\x00") > len(data) // 10:
                raise UploadError("Tệp có vẻ là UTF-16 nhưng không có dấu BOM: hãy chọn mã hóa «UTF-16» hoặc xuất lại dạng UTF-8.")
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                line, byte = _first_bad_line(data)
                raise UploadError(
                    f"Tệp không phải UTF-8 (byte 0x{byte:02x} ở dòng {line}). Nếu tệp được lưu từ phần mềm văn phòng "
                    "với mã Windows-1258, hãy chọn mã hóa «Windows-1258» rồi tải lên lại, hoặc xuất lại tệp dạng UTF-8."
                ) from None
    except UnicodeDecodeError as exc:
        raise UploadError(f"Không đọc được tệp với mã hóa {ENCODINGS[encoding]}: {exc.reason} ở byte {exc.start}.") from exc
    return Prepared(text.replace("\r\n", "\n").encode("utf-8"), notes)


def check(data: bytes, filename: str, encoding: str = "auto") -> tuple[ImportReport, list[str]]:
    """Validate an upload with the importer (nothing is written); returns its report and conversion notes."""
    prepared = prepare(data, encoding)
    with tempfile.TemporaryDirectory(prefix="tthc-upload-") as tmp:
        path = Path(tmp) / (Path(filename).name or "upload.jsonl")
        path.write_bytes(prepared.data)
        report = import_file(path, commit=None, raise_on_error=False)
    report.source = Path(filename).name or "upload.jsonl"
    return report, prepared.notes
