"""μ-law coding and sample-rate conversion (pure numpy, no audioop)."""

from __future__ import annotations

import numpy as np
import pytest

from voice.audio import (
    ULAW_DECODE_TABLE,
    Upsampler2x,
    resample,
    rms,
    ulaw_decode,
    ulaw_encode,
    ulaw_frames,
    wav_to_pcm,
)


def test_ulaw_decode_table_known_values() -> None:
    # G.711 reference points: 0xFF and 0x7F are the two zeros, 0x80/0x00 the extremes.
    assert ULAW_DECODE_TABLE[0xFF] == 0
    assert ULAW_DECODE_TABLE[0x7F] == 0
    assert ULAW_DECODE_TABLE[0x80] == 32124
    assert ULAW_DECODE_TABLE[0x00] == -32124


def test_ulaw_round_trip_error_is_within_one_quantisation_step() -> None:
    x = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    y = ulaw_decode(ulaw_encode(x)).astype(np.int32)
    err = np.abs(y - x.astype(np.int32))
    # The step grows with the segment: 1/16 of the segment size, plus clipping at 32124.
    mag = np.abs(x.astype(np.int32))
    bound = np.maximum(4, mag // 16 + 16)
    assert np.all((err <= bound) | (mag > 32000))


def test_ulaw_codes_are_stable_under_reencoding() -> None:
    codes = bytes(range(256))
    again = ulaw_encode(ulaw_decode(codes))
    # Every code except the negative zero (0x7F, decodes to 0 -> encodes as 0xFF) maps to itself.
    assert [c for c, d in zip(codes, again, strict=True) if c != d] == [0x7F]


def test_ulaw_encoder_matches_cpython_audioop_when_available() -> None:
    try:
        import audioop  # deprecated, gone in 3.13: only a cross-check here
    except ImportError:
        pytest.skip("audioop not available on this Python (removed in 3.13); cross-check not possible")
    x = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert ulaw_encode(x) == audioop.lin2ulaw(x.tobytes(), 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)


def test_upsampler_is_continuous_across_frames() -> None:
    t = np.arange(8000) / 8000
    x = (9000 * np.sin(2 * np.pi * 700 * t) + 3000 * np.sin(2 * np.pi * 2300 * t)).astype(np.int16)
    whole = Upsampler2x().process(x)
    up = Upsampler2x()
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(x):  # irregular chunk sizes, including 1-sample chunks
        n = int(rng.integers(1, 400))
        parts.append(up.process(x[i : i + n]))
        i += n
    assert np.array_equal(whole, np.concatenate(parts))
    assert len(whole) == 2 * len(x)


def test_upsampler_keeps_level_and_rejects_images() -> None:
    t = np.arange(16000) / 8000
    x = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    y = Upsampler2x().process(x)[200:].astype(np.float64)
    assert abs(rms(y) - rms(x)) / rms(x) < 0.01
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    signal = spec[np.argmin(np.abs(freqs - 1000))]
    image = spec[np.argmin(np.abs(freqs - 7000))]  # 8000 - 1000
    assert image < signal * 1e-3


def test_upsampler_reset_forgets_history() -> None:
    up = Upsampler2x()
    up.process(np.full(200, 10000, dtype=np.int16))
    up.reset()
    assert not np.any(up.process(np.zeros(50, dtype=np.int16)))


@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (16000, 8000), (8000, 16000), (24000, 8000)])
def test_resample_keeps_in_band_tones_and_length(src: int, dst: int) -> None:
    t = np.arange(src) / src
    x = (8000 * np.sin(2 * np.pi * 800 * t)).astype(np.int16)
    y = resample(x, src, dst)
    assert abs(len(y) - dst) <= 1
    assert abs(rms(y[100:-100]) - rms(x)) / rms(x) < 0.02


def test_resample_removes_content_above_the_new_nyquist() -> None:
    t = np.arange(22050) / 22050
    x = (8000 * np.sin(2 * np.pi * 6000 * t)).astype(np.int16)
    assert rms(resample(x, 22050, 8000)[100:-100]) < 0.01 * rms(x)


def test_frames_are_160_bytes_and_padded_with_silence() -> None:
    frames = ulaw_frames(b"\x00" * 330)
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[-1][10:] == b"\xff" * 150


def test_wav_parsing_rejects_8_bit() -> None:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 100)
    with pytest.raises(ValueError, match="16-bit"):
        wav_to_pcm(buf.getvalue())
