"""Text-to-speech for the phone line: pluggable engines plus a prompt cache.

Why pluggable: the offline default, espeak-ng's Vietnamese voice, is robotic
but installs from Debian and needs no network; a connected deployment will
want a neural voice.  Any engine only has to turn text into WAV bytes; this
module converts to 8 kHz μ-law (what Twilio plays) and caches the result by a
hash of engine + voice + text, in memory and on disk, so fixed prompts
("Anh/chị có muốn nghe tiếp không?") are synthesised once per deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import itertools
import logging
import os
import queue
import shlex
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from voice.audio import pcm_to_ulaw8k, wav_to_pcm
from voice.config import Settings

log = logging.getLogger(__name__)


class TtsError(RuntimeError):
    """Synthesis failed (engine missing, crashed or produced no audio)."""


class TtsEngine(Protocol):
    """What a voice must provide: a stable id and text -> WAV bytes."""

    @property
    def cache_key(self) -> str:
        """Identifies engine + voice + options, so caches never mix voices."""
        ...

    async def synthesize_wav(self, text: str) -> bytes:
        """Return a 16-bit PCM WAV (any sample rate) speaking ``text``."""
        ...


class _PriorityPool:
    """A few worker threads that serve urgent jobs before background ones.

    Why: when many callers finish speaking at once, the first sentence of
    each answer (what the caller is waiting for) must not queue behind the
    long remainder of other calls' answers, which can be synthesised while
    the first sentence plays.
    """

    URGENT, BACKGROUND = 0, 1

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads = [
            threading.Thread(target=self._worker, name=f"tts-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def _worker(self) -> None:
        while True:
            _prio, _seq, (fut, fn, args) = self._queue.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
                fut.set_exception(exc)

    async def run(self, priority: int, fn: Callable[..., Any], *args: Any) -> Any:
        fut: Future[Any] = Future()
        self._queue.put((priority, next(self._seq), (fut, fn, args)))
        return await asyncio.wrap_future(fut)


_POOL = _PriorityPool(max(2, os.cpu_count() or 2))
#: Set by :meth:`PromptCache.ulaw`; engines that use :func:`_run` inherit it.
_URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("tts_urgent", default=True)


def _run_sync(argv: list[str], stdin: bytes, timeout_s: float) -> bytes:
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError as exc:
        raise TtsError(f"TTS program not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise TtsError(f"TTS timed out after {timeout_s}s: {argv[0]}") from exc
    if proc.returncode != 0 or not proc.stdout:
        raise TtsError(
            f"TTS failed ({argv[0]} exit {proc.returncode}): {proc.stderr.decode(errors='replace')[:200]}"
        )
    return proc.stdout


async def _run(argv: list[str], stdin: bytes, timeout_s: float) -> bytes:
    """Run a TTS program from a worker thread.

    Why not ``asyncio.create_subprocess_exec``: it forks on the event-loop
    thread, and twenty callers finishing a sentence at the same moment then
    stall the loop for ~150 ms, which shows up as outbound audio underruns.
    """
    priority = _PriorityPool.URGENT if _URGENT.get() else _PriorityPool.BACKGROUND
    return await _POOL.run(priority, _run_sync, argv, stdin, timeout_s)


class EspeakTts:
    """espeak-ng, Vietnamese voice, WAV on stdout (22.05 kHz)."""

    def __init__(self, voice: str = "vi", rate_wpm: int = 150, program: str = "espeak-ng") -> None:
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.program = program

    @property
    def cache_key(self) -> str:
        return f"espeak-ng|{self.voice}|{self.rate_wpm}"

    async def synthesize_wav(self, text: str) -> bytes:
        # Text goes on stdin so it is never parsed as an option.
        argv = [self.program, "-v", self.voice, "-s", str(self.rate_wpm), "--stdout"]
        return await _run(argv, text.encode("utf-8"), timeout_s=10.0)


class CommandTts:
    """Any program that reads UTF-8 text on stdin and writes a WAV on stdout.

    This is the hook for better voices on a connected machine, e.g. Piper:
    ``TTS_ENGINE=command TTS_COMMAND="piper --model vi_VN-vais1000-medium.onnx
    --output_file -"``.
    """

    def __init__(self, command: str) -> None:
        if not command.strip():
            raise ValueError("TTS_COMMAND is empty")
        self.argv = shlex.split(command)

    @property
    def cache_key(self) -> str:
        return "command|" + " ".join(self.argv)

    async def synthesize_wav(self, text: str) -> bytes:
        return await _run(self.argv, text.encode("utf-8"), timeout_s=30.0)


class PromptCache:
    """Speech as 8 kHz μ-law, cached by text hash in memory and on disk.

    Concurrency: one synthesis job per text, owned by the cache (not by the call that asked
    first), so a caller hanging up never fails the job another call is waiting on.  Disk reads
    and writes run in worker threads, never on the event loop that paces every call's audio,
    and the disk cache is trimmed, oldest first, to ``max_disk_bytes``.
    """

    def __init__(
        self, engine: TtsEngine, cache_dir: Path | None, max_memory_items: int = 512,
        max_disk_bytes: int = 200 * 1024 * 1024,
    ) -> None:
        self.engine = engine
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_memory_items = max_memory_items
        self.max_disk_bytes = max_disk_bytes
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[bytes]] = {}
        self._disk_lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def key(self, text: str) -> str:
        """Content hash of engine id + text."""
        return hashlib.sha256(f"{self.engine.cache_key}\n{text}".encode()).hexdigest()

    async def ulaw(self, text: str, urgent: bool = True) -> bytes:
        """μ-law 8 kHz audio for ``text`` (synthesised at most once).

        ``urgent=False`` marks audio that is not awaited yet (the rest of an
        answer whose first sentence is already playing): it yields the TTS
        workers to other calls' first sentences.
        """
        key = self.key(text)
        if key in self._memory:
            self.hits += 1
            self._memory.move_to_end(key)
            return self._memory[key]
        job = self._inflight.get(key)
        if job is None:
            _URGENT.set(urgent)  # copied into the job's context
            job = asyncio.get_running_loop().create_task(self._produce(key, text, urgent), name=f"tts-{key[:8]}")
            self._inflight[key] = job
            job.add_done_callback(lambda _t, k=key: self._inflight.pop(k, None))
            job.add_done_callback(_consume_exception)
        return await asyncio.shield(job)  # cancelling this caller leaves the job to the others

    async def _produce(self, key: str, text: str, urgent: bool) -> bytes:
        path = self.cache_dir / f"{key}.ulaw" if self.cache_dir else None
        if path is not None:
            data = await asyncio.to_thread(_read_or_none, path)
            if data:
                self.hits += 1
                self._remember(key, data)
                return data
        self.misses += 1
        wav = await self.engine.synthesize_wav(text)
        priority = _PriorityPool.URGENT if urgent else _PriorityPool.BACKGROUND
        data = await _POOL.run(priority, _wav_to_ulaw, wav)
        if not data:
            raise TtsError(f"TTS produced no audio for {text!r}")
        self._remember(key, data)
        if path is not None:
            await asyncio.to_thread(self._store, path, data)
        return data

    def _store(self, path: Path, data: bytes) -> None:
        """Write one clip atomically, then trim the directory (worker thread)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        with self._disk_lock:
            _trim(path.parent, self.max_disk_bytes)

    def _remember(self, key: str, data: bytes) -> None:
        self._memory[key] = data
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_memory_items:
            self._memory.popitem(last=False)


def _consume_exception(task: asyncio.Task[Any]) -> None:
    """A job nobody awaits any more must not log "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


def _read_or_none(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used clips are trimmed last
    return data


def _trim(directory: Path, max_bytes: int) -> None:
    """Delete the least recently used clips until the directory holds at most ``max_bytes``."""
    entries = []
    total = 0
    for entry in os.scandir(directory):
        if entry.name.endswith(".ulaw"):
            st = entry.stat()
            entries.append((st.st_mtime, st.st_size, entry.path))
            total += st.st_size
    if total <= max_bytes:
        return
    for _mtime, size, name in sorted(entries):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)
        total -= size
        if total <= max_bytes:
            break


def _wav_to_ulaw(wav: bytes) -> bytes:
    pcm, rate = wav_to_pcm(wav)
    return pcm_to_ulaw8k(pcm, rate)


def engine_from_settings(settings: Settings) -> TtsEngine:
    """The TTS engine selected by ``TTS_ENGINE``."""
    if settings.tts_engine == "espeak":
        return EspeakTts(settings.tts_voice, settings.tts_rate_wpm)
    if settings.tts_engine == "command":
        return CommandTts(settings.tts_command)
    raise ValueError(f"unknown TTS_ENGINE {settings.tts_engine!r} (use espeak or command)")
