"""Streaming speech recognition with Vosk, off the event loop.

Why it is built this way:

* Vosk's ``AcceptWaveform`` is CPU-bound C++; calling it on the asyncio loop
  would stall every other call.  Each call therefore owns a
  :class:`RecognizerStream` that hands batches of audio to a shared
  :class:`~concurrent.futures.ThreadPoolExecutor` sized to the cores (vosk
  releases the GIL while decoding), with at most one batch in flight per call
  so a call's audio is decoded in order.
* End of utterance is decided by a cheap energy detector on the loop (a
  silence threshold and a maximum utterance length), not by waiting for the
  model, so the gateway can answer quickly even with a slow model.  Vosk's
  own endpoints are honoured too: their text is kept as a segment of the
  utterance.
* Partial results and speech onsets are reported as soon as they are known:
  they drive barge-in.
* For yes/no and digit questions a second, grammar-restricted recogniser runs
  on the same audio (``KaldiRecognizer(model, rate, grammar_json)``) with
  ``"[unk]"`` added to the grammar, so out-of-grammar speech comes back as
  ``[unk]`` and is rejected rather than forced onto "có" or "không".
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voice.audio import SAMPLE_RATE_ASR, Upsampler2x, rms, ulaw_decode
from voice.config import Settings

log = logging.getLogger(__name__)

UNK = "[unk]"

MODEL_HINT = (
    "Run `make models` to download vosk-model-small-vn-0.4 into models/vosk/, "
    "or set VOSK_MODEL_PATH to an unpacked Vosk model directory."
)


class ModelMissingError(RuntimeError):
    """The Vosk model directory is absent or incomplete."""


def check_model_dir(path: Path) -> None:
    """Fail early, naming the command that fetches the model.

    Vosk itself only prints a C++ log line and raises a bare "Failed to create
    a model", which tells an operator nothing about how to fix it.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelMissingError(f"Vosk model not found at '{path}'. {MODEL_HINT}")
    required = [path / "am" / "final.mdl", path / "conf" / "model.conf"]
    graphs = [path / "graph" / "HCLG.fst", path / "graph" / "HCLr.fst"]
    missing = [str(p) for p in required if not p.exists()]
    if not any(g.exists() for g in graphs):
        missing.append(str(path / "graph" / "HCLG.fst (or HCLr.fst + Gr.fst)"))
    if missing:
        raise ModelMissingError(
            f"Vosk model at '{path}' is incomplete (missing: {', '.join(missing)}). "
            f"{MODEL_HINT}"
        )


def load_model(path: Path) -> Any:
    """Load a Vosk model after checking its layout; never downloads anything."""
    check_model_dir(path)
    import vosk

    vosk.SetLogLevel(-1)
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception
        raise ModelMissingError(f"Vosk could not load '{path}': {exc}. {MODEL_HINT}") from exc


@dataclass
class AsrEvent:
    """Something the recogniser learnt about the caller's speech."""

    #: "speech_start" | "partial" | "end" (the energy detector ended the utterance; its transcript,
    #: the "final", follows once the recogniser has caught up) | "final"
    kind: str
    text: str = ""
    #: loop time (``loop.time()``) of the audio that triggered the event; for
    #: "speech_start" this is the arrival of the first voiced frame.
    at: float = 0.0
    reason: str = ""  # for finals: "silence" | "max_length" | "asr_endpoint" | "flush"
    #: words the grammar recogniser accepted (empty when rejected or no grammar)
    grammar_text: str | None = None
    grammar_confidence: float = 0.0
    #: loop time at which the utterance was judged complete (finals only)
    ended_at: float = 0.0
    #: loop time of the last voiced frame of the utterance ("end" and "final")
    speech_end_at: float = 0.0
    source: str = "vad"  # what detected a speech start: "vad" or "asr"


@dataclass
class AsrStats:
    """Process-wide recognition counters (benchmarks and health checks)."""

    audio_s: float = 0.0
    cpu_s: float = 0.0
    jobs: int = 0

    @property
    def real_time_factor(self) -> float:
        """CPU seconds spent per second of audio decoded."""
        return self.cpu_s / self.audio_s if self.audio_s else 0.0


class AsrEngine:
    """Owns the model and the worker pool shared by every call."""

    def __init__(self, model: Any, model_path: Path, workers: int) -> None:
        self.model = model
        self.model_path = Path(model_path)
        self.executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="asr")
        self.stats = AsrStats()
        self._lock = threading.Lock()
        self._live_recognizers = 0
        self.inflight: set[Future[Any]] = set()
        self._vocab_cache: dict[str, bool] = {}
        graph = self.model_path / "graph"
        #: vosk builds grammar graphs only for models shipped as HCLr + Gr;
        #: with a precompiled HCLG it ignores the grammar, so we filter instead.
        self.supports_grammar = (graph / "HCLr.fst").exists() and not (
            graph / "HCLG.fst"
        ).exists()

    @classmethod
    def from_settings(cls, settings: Settings) -> AsrEngine:
        """Load the configured model (raises :class:`ModelMissingError`)."""
        model = load_model(settings.vosk_model_path)
        return cls(model, settings.vosk_model_path, settings.asr_workers)

    @property
    def live_recognizers(self) -> int:
        """KaldiRecognizer objects currently alive (freed ones are not counted)."""
        with self._lock:
            return self._live_recognizers

    def _released(self) -> None:
        with self._lock:
            self._live_recognizers -= 1

    def known_words(self, phrases: Sequence[str]) -> list[str]:
        """Keep the phrases whose every word is in the model's vocabulary.

        Vosk silently drops unknown grammar words (it only logs a warning),
        which would make a phrase unrecognisable without anyone noticing.
        """
        kept = []
        for phrase in phrases:
            known = self._vocab_cache.get(phrase)
            if known is None:
                words = phrase.split()
                known = bool(words) and all(self.model.vosk_model_find_word(w) >= 0 for w in words)
                self._vocab_cache[phrase] = known
                if not known:
                    log.warning("grammar phrase %r is not in the model vocabulary", phrase)
            if known:
                kept.append(phrase)
        return kept

    def make_recognizer(self, grammar: Sequence[str] | None = None) -> Any:
        """A fresh KaldiRecognizer at 16 kHz (call from a worker thread)."""
        import vosk

        if grammar is not None and self.supports_grammar:
            phrases = list(dict.fromkeys([*grammar, UNK]))
            rec = vosk.KaldiRecognizer(
                self.model, SAMPLE_RATE_ASR, json.dumps(phrases, ensure_ascii=False)
            )
        else:
            rec = vosk.KaldiRecognizer(self.model, SAMPLE_RATE_ASR)
        rec.SetWords(True)
        with self._lock:
            self._live_recognizers += 1
        weakref.finalize(rec, self._released)
        return rec

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn`` in the pool; the returned future is tracked until done."""
        cfut = self.executor.submit(fn, *args)
        with self._lock:
            self.inflight.add(cfut)
        cfut.add_done_callback(self._forget)
        return asyncio.wrap_future(cfut)

    def _forget(self, fut: Future[Any]) -> None:
        with self._lock:
            self.inflight.discard(fut)

    def pending_jobs(self) -> int:
        """Jobs submitted and not finished yet."""
        with self._lock:
            return len(self.inflight)

    def shutdown(self) -> None:
        """Stop the pool (waits for running jobs)."""
        self.executor.shutdown(wait=True, cancel_futures=True)


def _text_of(result_json: str) -> tuple[str, float]:
    """Text and lowest word confidence of a vosk result."""
    data = json.loads(result_json)
    text = str(data.get("text", "")).strip()
    confs = [float(w.get("conf", 1.0)) for w in data.get("result", [])]
    return text, (min(confs) if confs else (1.0 if text else 0.0))


@dataclass
class _EndMark:
    """End of an utterance, queued in order with the audio."""

    reason: str
    at: float


@dataclass
class _Job:
    audio: list[np.ndarray]
    finalize: bool
    grammar: list[str] | None
    regrammar: bool
    audio_s: float


@dataclass
class _JobResult:
    segments: list[str] = field(default_factory=list)
    grammar_segments: list[tuple[str, float]] = field(default_factory=list)
    partial: str = ""
    cpu_s: float = 0.0


class RecognizerStream:
    """The per-call recogniser: feed μ-law frames, receive :class:`AsrEvent`.

    ``feed`` runs on the event loop and never blocks: it decodes μ-law, runs
    the energy detector and queues the samples; upsampling (with the call's
    own filter state) and recognition happen in the engine's pool, a batch
    of ``asr_batch_ms`` at a time.  ``close`` waits for the batch in flight, then drops both
    recognisers so their memory is returned at once.
    """

    def __init__(
        self,
        engine: AsrEngine,
        settings: Settings,
        on_event: Callable[[AsrEvent], None],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.on_event = on_event
        self.loop = loop or asyncio.get_running_loop()
        self._upsampler = Upsampler2x()
        # 8 kHz int16 chunks not yet decoded, interleaved with end-of-utterance
        # markers so that utterances queued behind a busy worker never merge.
        self._pending: list[np.ndarray | _EndMark] = []
        self._pending_s = 0.0
        self._job: asyncio.Future[Any] | None = None
        self._closed = False
        self._free: Any = None
        self._grammar_rec: Any = None
        self._grammar: list[str] | None = None
        self._regrammar = False
        # Energy detector state, counted in 20 ms frames.
        self._voiced_run = 0
        self._silent_run = 0
        self._in_speech = False
        self._awaiting_final = False
        self._utt_frames = 0
        self._onset_at = 0.0
        self._run_started_at = 0.0
        self._last_voiced_at = 0.0
        # Text gathered for the current utterance.
        self._segments: list[str] = []
        self._grammar_segments: list[tuple[str, float]] = []
        self._last_partial = ""
        self.frames_in = 0

    # ------------------------------------------------------------------ API

    @property
    def in_speech(self) -> bool:
        """True while the caller is talking (by the energy detector)."""
        return self._in_speech

    @property
    def grammar(self) -> list[str] | None:
        return self._grammar

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        """Restrict the *secondary* recogniser to ``phrases`` (None: none).

        The free recogniser keeps running, so a caller who answers a yes/no
        question with a new question is still understood.  The change is
        applied by the worker before the next batch, in order.
        """
        new = list(phrases) if phrases else None
        if new is not None:
            new = self.engine.known_words(new) or None
        if new != self._grammar:
            self._grammar = new
            self._regrammar = True
            self._grammar_segments = []

    def feed(self, ulaw: bytes) -> None:
        """Accept one inbound μ-law frame (normally 20 ms)."""
        if self._closed or not ulaw:
            return
        now = self.loop.time()
        pcm8 = ulaw_decode(ulaw)
        self.frames_in += 1
        self._pending.append(pcm8)
        self._pending_s += len(pcm8) / 8000.0
        self._detect(pcm8, now)
        self._kick()

    def flush(self) -> None:
        """End the current utterance now (e.g. the caller pressed a key)."""
        if self._in_speech or self._segments:
            self._end_utterance("flush", self.loop.time())

    def reset_utterance(self) -> None:
        """Drop what was heard so far (e.g. speech that was only echo)."""
        self._segments = []
        self._grammar_segments = []
        self._last_partial = ""

    async def close(self) -> None:
        """Free the recognisers; waits for the batch in flight, if any."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        job = self._job
        if job is not None:
            try:
                await asyncio.shield(job)
            except Exception:  # noqa: BLE001 - the job's error no longer matters
                log.debug("recognition job failed during close", exc_info=True)
        # Drop the recognisers in a worker-free way: just release references.
        self._free = None
        self._grammar_rec = None

    # ------------------------------------------------------- energy detector

    def _detect(self, pcm8: np.ndarray, now: float) -> None:
        s = self.settings
        frame_ms = max(1, round(len(pcm8) / 8))  # 8 samples per ms at 8 kHz
        voiced = rms(pcm8) >= s.vad_threshold
        if voiced:
            if self._voiced_run == 0:
                self._run_started_at = now - frame_ms / 1000.0
            self._voiced_run += 1
            self._silent_run = 0
            self._last_voiced_at = now
        else:
            self._voiced_run = 0
            self._silent_run += 1
        if not self._in_speech:
            if self._voiced_run * frame_ms >= s.speech_start_ms:
                self._in_speech = True
                self._utt_frames = self._voiced_run
                self._onset_at = self._run_started_at
                self.on_event(AsrEvent("speech_start", at=self._onset_at))
            return
        self._utt_frames += 1
        if self._silent_run * frame_ms >= s.silence_ms:
            self._end_utterance("silence", now)
        elif self._silent_run == 0 and self._utt_frames * frame_ms >= s.max_utterance_ms:
            self._end_utterance("max_length", now)

    def _end_utterance(self, reason: str, now: float) -> None:
        self._in_speech = False
        self._awaiting_final = True  # partials still in flight belong to this utterance
        self._voiced_run = 0
        self._silent_run = 0
        self._utt_frames = 0
        self._pending.append(_EndMark(reason, now))
        self._kick()
        if reason != "flush":
            # Known now, on the loop, before the recogniser's final result (which may wait for a
            # worker): the call can start its acknowledgement deadline from here.
            self.on_event(AsrEvent("end", at=now, reason=reason, ended_at=now,
                                   speech_end_at=self._last_voiced_at or now))

    # ---------------------------------------------------------- worker side

    def _kick(self) -> None:
        if self._closed or self._job is not None:
            return
        end = next((i for i, x in enumerate(self._pending) if isinstance(x, _EndMark)), None)
        if end is None:
            # Batch a few frames per job: fewer thread hand-offs under load.
            if not self._regrammar and self._pending_s * 1000 < self.settings.asr_batch_ms:
                return
            if not self._pending and not self._regrammar:
                return
            take, mark, self._pending = self._pending, None, []
        else:
            take, mark = self._pending[:end], self._pending[end]
            self._pending = self._pending[end + 1 :]
        audio = [x for x in take if isinstance(x, np.ndarray)]
        audio_s = sum(len(a) for a in audio) / 8000.0
        self._pending_s = max(0.0, self._pending_s - audio_s)
        job = _Job(
            audio=audio,
            finalize=mark is not None,
            grammar=self._grammar,
            regrammar=self._regrammar,
            audio_s=audio_s,
        )
        meta = (mark.reason, mark.at) if isinstance(mark, _EndMark) else None
        self._regrammar = False
        fut = self.engine.submit(self._work, job)
        self._job = fut
        fut.add_done_callback(lambda f: self._done(f, job, meta))

    def _work(self, job: _Job) -> _JobResult:
        """Runs in a worker thread: decode one batch, maybe finalise."""
        t0 = time.thread_time()
        out = _JobResult()
        if self._free is None:
            self._free = self.engine.make_recognizer(None)
        if job.regrammar:
            self._grammar_rec = (
                self.engine.make_recognizer(job.grammar)
                if job.grammar is not None and self.engine.supports_grammar
                else None
            )
        free, gram = self._free, self._grammar_rec
        audio = self._upsampler.process(np.concatenate(job.audio)).tobytes() if job.audio else b""
        if audio:
            if free.AcceptWaveform(audio):
                text, _ = _text_of(free.Result())
                if text:
                    out.segments.append(text)
            if gram is not None and gram.AcceptWaveform(audio):
                gtext, gconf = _text_of(gram.Result())
                if gtext:
                    out.grammar_segments.append((gtext, gconf))
        if job.finalize:
            text, _ = _text_of(free.FinalResult())
            if text:
                out.segments.append(text)
            if gram is not None:
                gtext, gconf = _text_of(gram.FinalResult())
                if gtext:
                    out.grammar_segments.append((gtext, gconf))
        else:
            out.partial = str(json.loads(free.PartialResult()).get("partial", "")).strip()
        out.cpu_s = time.thread_time() - t0
        return out

    def _done(self, fut: asyncio.Future[Any], job: _Job, meta: tuple[str, float] | None) -> None:
        self._job = None
        if self._closed:
            return
        stats = self.engine.stats
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            # Re-arm instead of returning: a lost finalising job would leave the call
            # "awaiting final" for ever and drop the caller's utterance.  The recognisers
            # may be in a bad state, so the next job starts fresh ones.
            log.error("recognition failed: %s", exc)
            stats.jobs += 1
            self._free = None
            self._grammar_rec = None
            self._regrammar = self._grammar is not None
            if job.finalize:
                reason, ended_at = meta or ("flush", self.loop.time())
                self._emit_final(reason + "+error", ended_at)
            self._kick()
            return
        res: _JobResult = fut.result()
        stats.audio_s += job.audio_s
        stats.cpu_s += res.cpu_s
        stats.jobs += 1
        self._segments.extend(res.segments)
        self._grammar_segments.extend(res.grammar_segments)
        now = self.loop.time()
        if job.finalize:
            reason, ended_at = meta or ("flush", now)
            self._emit_final(reason, ended_at)
        else:
            if res.segments and not self._in_speech:
                # Vosk found an endpoint with text while the energy detector
                # heard nothing (a quiet caller): trust the recogniser.
                self._emit_final("asr_endpoint", now)
            elif res.partial and res.partial != self._last_partial:
                self._last_partial = res.partial
                if not self._in_speech and not self._awaiting_final and res.partial != UNK:
                    self.on_event(AsrEvent("speech_start", at=now, source="asr"))
                self.on_event(AsrEvent("partial", text=res.partial, at=now))
        self._kick()

    def _emit_final(self, reason: str, ended_at: float) -> None:
        self._awaiting_final = False
        text = " ".join(self._segments).strip()
        words = [w for w in text.split() if w != UNK]
        grammar_text: str | None = None
        grammar_conf = 0.0
        if self._grammar is not None:
            grammar_text, grammar_conf = self._grammar_answer(text)
        self._segments = []
        self._grammar_segments = []
        self._last_partial = ""
        log.debug("final %r %.0f ms after end of utterance", text, (self.loop.time() - ended_at) * 1000)
        self.on_event(
            AsrEvent(
                "final",
                text=" ".join(words),
                at=self.loop.time(),
                reason=reason,
                grammar_text=grammar_text,
                grammar_confidence=grammar_conf,
                ended_at=ended_at,
                speech_end_at=self._last_voiced_at or ended_at,
            )
        )

    def _grammar_answer(self, free_text: str) -> tuple[str, float]:
        """In-grammar words of this utterance, or "" when it was rejected."""
        allowed = set(self._grammar or [])
        if self.engine.supports_grammar:
            words: list[str] = []
            conf = 1.0
            for text, c in self._grammar_segments:
                for w in text.split():
                    if w != UNK and w in allowed:
                        words.append(w)
                        conf = min(conf, c)
            return (" ".join(words), conf if words else 0.0)
        # Model without runtime graphs: filter the free transcript instead.
        phrases = [p for p in (self._grammar or []) if f" {p} " in f" {free_text} "]
        return (" ".join(phrases), 1.0 if phrases else 0.0)
