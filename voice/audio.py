"""Telephone audio helpers: G.711 μ-law, sample-rate conversion, levels.

Twilio Media Streams carry 8 kHz μ-law in 20 ms frames (160 bytes) while
Vosk's small models only accept 16 kHz PCM, so every inbound frame is decoded
and upsampled, and every synthesised prompt is resampled to 8 kHz and encoded.
Everything here is plain numpy: the standard library's ``audioop`` is
deprecated (removed in Python 3.13) and scipy is not a dependency.
"""

from __future__ import annotations

import functools
import io
import math
import wave

import numpy as np

SAMPLE_RATE_PHONE = 8000
SAMPLE_RATE_ASR = 16000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE_PHONE * FRAME_MS // 1000  # 160 samples = 160 μ-law bytes
ULAW_SILENCE = 0xFF  # μ-law code of digital zero

_BIAS = 0x84


def _build_decode_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_encode_table() -> np.ndarray:
    """μ-law code for every int16 value, indexed by the value viewed as uint16.

    Follows the Sun/CCITT reference coder on the 14-bit magnitude (the one
    CPython's ``audioop.lin2ulaw`` used), so codes match byte for byte.
    """
    x = np.arange(65536, dtype=np.int32)
    x = np.where(x >= 32768, x - 65536, x) >> 2  # signed, 14-bit
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + (_BIAS >> 2)
    seg_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    seg = np.searchsorted(seg_ends, mag)  # first segment whose end >= mag
    code = np.where(
        seg >= 8, 0x7F, (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    )
    return ((code ^ mask) & 0xFF).astype(np.uint8)


ULAW_DECODE_TABLE = _build_decode_table()
_ULAW_ENCODE_TABLE = _build_encode_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    """Decode G.711 μ-law bytes to int16 PCM."""
    return ULAW_DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """Encode int16 PCM to G.711 μ-law bytes (table lookup, reference coder)."""
    samples = np.asarray(pcm, dtype=np.int16)
    return _ULAW_ENCODE_TABLE[samples.view(np.uint16)].tobytes()


def to_int16(x: np.ndarray) -> np.ndarray:
    """Round and saturate a float signal to int16."""
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def rms(pcm: np.ndarray) -> float:
    """Root-mean-square level of an int16 block (0 for an empty block)."""
    if len(pcm) == 0:
        return 0.0
    x = pcm.astype(np.float64)
    return float(math.sqrt(float(np.mean(x * x))))


def _kaiser_lowpass(num_taps: int, cutoff: float, beta: float = 8.0) -> np.ndarray:
    """Windowed-sinc low-pass; ``cutoff`` is a fraction of the sampling rate."""
    n = np.arange(num_taps) - (num_taps - 1) / 2.0
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(num_taps, beta)
    return h / h.sum()


class Upsampler2x:
    """Streaming 8 kHz -> 16 kHz converter that keeps its filter state per call.

    A polyphase FIR (48 taps at 16 kHz, pass band to about 3.6 kHz): each input
    chunk is filtered together with the tail of the previous one, so feeding a
    call frame by frame gives exactly the samples that converting the whole
    recording at once would (no clicks at 20 ms boundaries).  Delay: 12 input
    samples (1.5 ms).
    """

    NUM_TAPS = 48

    def __init__(self) -> None:
        h = _kaiser_lowpass(self.NUM_TAPS, cutoff=0.225) * 2.0  # gain 2 restores level
        self._phases = (h[0::2].copy(), h[1::2].copy())
        self._history = np.zeros(len(self._phases[0]) - 1, dtype=np.float64)

    def reset(self) -> None:
        """Forget the filter history (a new, unrelated stream follows)."""
        self._history[:] = 0.0

    def process(self, pcm8: np.ndarray) -> np.ndarray:
        """Upsample one chunk of int16 8 kHz samples to int16 16 kHz samples."""
        if len(pcm8) == 0:
            return np.zeros(0, dtype=np.int16)
        x = np.concatenate([self._history, pcm8.astype(np.float64)])
        even = np.convolve(x, self._phases[0], mode="valid")
        odd = np.convolve(x, self._phases[1], mode="valid")
        self._history = x[len(x) - len(self._history) :].copy()
        out = np.empty(2 * len(even), dtype=np.float64)
        out[0::2] = even
        out[1::2] = odd
        return to_int16(out)


@functools.lru_cache(maxsize=16)
def _polyphase_table(up: int, down: int, half_width: int) -> np.ndarray:
    """Windowed-sinc kernels for each of the ``up`` output phases."""
    cutoff = min(1.0, up / down) * 0.95
    offsets = np.arange(-half_width + 1, half_width + 1)
    frac = (np.arange(up) * down % up) / up  # fractional input position per phase
    dist = frac[:, None] - offsets[None, :]
    window = np.kaiser(2 * half_width + 1, 8.0)
    w = np.interp(dist, np.linspace(-half_width, half_width, 2 * half_width + 1), window)
    return cutoff * np.sinc(cutoff * dist) * w


def resample(pcm: np.ndarray, src_rate: int, dst_rate: int, half_width: int = 16) -> np.ndarray:
    """Offline band-limited resampling of a whole int16 clip (used for prompts).

    Rational polyphase windowed-sinc: the ratio is reduced to ``up/down`` and
    one kernel per output phase is computed once and cached, so converting a
    22.05 kHz espeak-ng clip to 8 kHz costs a gather and a dot product per
    output sample.  The cut-off follows the lower Nyquist frequency (no
    aliasing when downsampling).
    """
    if src_rate == dst_rate or len(pcm) == 0:
        return np.asarray(pcm, dtype=np.int16).copy()
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    table = _polyphase_table(up, down, half_width).astype(np.float32)
    x = np.asarray(pcm, dtype=np.float32)
    n_out = len(x) * up // down
    padded = np.concatenate(
        [np.zeros(half_width, np.float32), x, np.zeros(half_width + 1, np.float32)]
    )
    # Output sample m reads the 2*half_width inputs from base(m) = m*down//up - half_width + 1 with
    # kernel phase(m) = m*down % up.  The outputs m = r, r+up, r+2*up, ... share one phase and step
    # by ``down`` inputs, so each of the ``up`` phases is one strided view times one kernel: no
    # index arrays, a few milliseconds for a sentence instead of tens (the TTS workers convert every
    # answer, on the same cores as the calls' real-time audio).
    out = np.empty(n_out, dtype=np.float32)
    width = 2 * half_width
    step = padded.strides[0]
    for r in range(min(up, n_out)):
        count = (n_out - r + up - 1) // up
        start = (r * down) // up + 1  # base(r) + half_width of padding
        rows = np.lib.stride_tricks.as_strided(
            padded[start:], shape=(count, width), strides=(down * step, step), writeable=False
        )
        out[r::up] = rows @ table[(r * down) % up]
    return to_int16(out)


def wav_to_pcm(data: bytes) -> tuple[np.ndarray, int]:
    """Read a 16-bit mono (or first channel of multi-channel) WAV from bytes."""
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit WAV, got {8 * w.getsampwidth()}-bit")
        rate = w.getframerate()
        channels = w.getnchannels()
        raw = w.readframes(w.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        pcm = pcm[::channels]
    return pcm.astype(np.int16), rate


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """Read a 16-bit WAV file from disk."""
    with open(path, "rb") as fh:
        return wav_to_pcm(fh.read())


def pcm_to_ulaw8k(pcm: np.ndarray, rate: int) -> bytes:
    """Any-rate int16 PCM to 8 kHz μ-law, ready for Twilio."""
    return ulaw_encode(resample(pcm, rate, SAMPLE_RATE_PHONE))


def ulaw_frames(ulaw: bytes, frame_bytes: int = FRAME_SAMPLES) -> list[bytes]:
    """Split μ-law audio into 20 ms frames, padding the last one with silence."""
    frames = [ulaw[i : i + frame_bytes] for i in range(0, len(ulaw), frame_bytes)]
    if frames and len(frames[-1]) < frame_bytes:
        frames[-1] = frames[-1] + bytes([ULAW_SILENCE]) * (frame_bytes - len(frames[-1]))
    return frames
