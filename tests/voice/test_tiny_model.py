"""The tiny Kaldi model: real vosk library, deterministic audio -> text."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.voice.support.tiny_model import (
    FST_MAGIC,
    TONE_WORDS,
    build_tiny_model,
    read_vector_fst,
    tone_burst,
    tone_frequencies,
    write_vector_fst,
)
from voice.audio import Upsampler2x, ulaw_decode, ulaw_encode


def decode(model: Any, pcm8: np.ndarray, grammar: list[str] | None = None) -> list[str]:
    """Phone path: μ-law, back to PCM, 16 kHz, vosk in 20 ms chunks."""
    import vosk

    rec = vosk.KaldiRecognizer(model, 16000, json.dumps(grammar, ensure_ascii=False)) if grammar else vosk.KaldiRecognizer(model, 16000)
    pcm16 = Upsampler2x().process(ulaw_decode(ulaw_encode(pcm8))).tobytes()
    texts = []
    for i in range(0, len(pcm16), 640):
        if rec.AcceptWaveform(pcm16[i : i + 640]):
            texts.append(json.loads(rec.Result())["text"])
    texts.append(json.loads(rec.FinalResult())["text"])
    return [t for t in texts if t]


def test_fst_writer_header_and_round_trip(tmp_path: Path) -> None:
    arcs = [[(1, 2, 0.5, 1), (0, 3, 1.25, 0)], [(4, 0, 0.0, 0)]]
    path = tmp_path / "x.fst"
    write_vector_fst(path, 0, {0: 0.0}, arcs)
    data = path.read_bytes()
    assert struct.unpack_from("<i", data, 0)[0] == FST_MAGIC
    assert data[4:8] == struct.pack("<i", 6) and data[8:14] == b"vector"
    assert data[14:18] == struct.pack("<i", 8) and data[18:26] == b"standard"
    version, flags, props = struct.unpack_from("<iiQ", data, 26)
    assert (version, flags) == (2, 0) and props & 0x3 == 0x3
    assert struct.unpack_from("<qqq", data, 42) == (0, 2, 3)
    start, finals, back = read_vector_fst(path)
    assert (start, finals, back) == (0, {0: 0.0}, arcs)
    # A non-final state is written with weight +inf (tropical Zero).
    assert math.isinf(struct.unpack_from("<f", data, 66 + 4 + 8 + 2 * 16)[0])


def test_model_files_exist_in_both_layouts(tiny_model_dir: Path, tiny_model_hclg_dir: Path) -> None:
    for rel in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/words.txt", "graph/phones/word_boundary.int"):
        assert (tiny_model_dir / rel).exists() and (tiny_model_hclg_dir / rel).exists()
    assert (tiny_model_hclg_dir / "graph/HCLG.fst").exists()
    assert not (tiny_model_hclg_dir / "graph/HCLr.fst").exists()
    assert (tiny_model_dir / "graph/HCLr.fst").exists() and (tiny_model_dir / "graph/Gr.fst").exists()
    assert (tiny_model_dir / "am/final.mdl").read_text().startswith("<TransitionModel>")


def test_rebuilding_is_byte_identical(tmp_path: Path, tiny_model_hclg_dir: Path) -> None:
    again = build_tiny_model(tmp_path / "again")
    for rel in ("am/final.mdl", "graph/HCLG.fst", "graph/words.txt"):
        assert (again / rel).read_bytes() == (tiny_model_hclg_dir / rel).read_bytes()


@pytest.fixture(scope="module")
def hclg_model(tiny_model_hclg_dir: Path) -> Any:
    import vosk

    vosk.SetLogLevel(-1)
    return vosk.Model(str(tiny_model_hclg_dir))


@pytest.mark.parametrize("word", TONE_WORDS)
def test_tone_burst_decodes_to_its_word_with_hclg(hclg_model: Any, word: str) -> None:
    assert decode(hclg_model, tone_burst(word)) == [word]


@pytest.mark.parametrize("word", ["có", "không", "hai"])
def test_tone_burst_decodes_with_runtime_graph(vosk_model: Any, word: str) -> None:
    assert decode(vosk_model, tone_burst(word)) == [word]


def test_quiet_short_tone_still_decodes(hclg_model: Any) -> None:
    assert decode(hclg_model, tone_burst("bảy", tone_s=0.12, amplitude=1200)) == ["bảy"]


def test_silence_and_line_noise_decode_to_nothing(hclg_model: Any) -> None:
    assert decode(hclg_model, np.zeros(16000, dtype=np.int16)) == []
    noise = np.random.default_rng(1).normal(0, 30, 16000).astype(np.int16)
    assert decode(hclg_model, noise) == []


def test_two_bursts_give_two_words_in_order(hclg_model: Any) -> None:
    pcm = np.concatenate([tone_burst("một", tail_s=0.3), tone_burst("ba", lead_s=0.0)])
    assert " ".join(decode(hclg_model, pcm)).split() == ["một", "ba"]


def test_tone_words_use_distinct_telephone_band_frequencies() -> None:
    freqs = tone_frequencies()
    assert len(set(round(f) for f in freqs.values())) == len(TONE_WORDS)
    assert all(300 < f < 3400 for f in freqs.values())


def test_real_speech_is_never_mistaken_for_a_tone_word(hclg_model: Any, recordings: list[Any]) -> None:
    for rec in recordings[::3]:
        words = " ".join(decode(hclg_model, rec.pcm)).split()
        assert set(words) <= {"[unk]"}, (rec.name, words)


def test_grammar_recogniser_accepts_in_grammar_and_rejects_the_rest(vosk_model: Any) -> None:
    grammar = ["có", "không", "[unk]"]
    assert decode(vosk_model, tone_burst("có"), grammar) == ["có"]
    assert decode(vosk_model, tone_burst("không"), grammar) == ["không"]
    # "một" is outside the grammar: rejected, not forced onto "có"/"không".
    assert set(" ".join(decode(vosk_model, tone_burst("một"), grammar)).split()) <= {"[unk]"}
