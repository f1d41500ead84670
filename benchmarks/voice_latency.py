"""Phone gateway latency and load: 1 and 20 concurrent simulated calls.

What it measures (printed as a table):

* end of caller speech -> first outbound audio frame, p50/p95, as the caller
  experiences it (measured by the Twilio simulator on its own clock) -- when the
  assistant takes longer than ACK_AFTER_MS (250 ms), that first audio is the
  backchannel "Dạ.", so the first frame of the ANSWER is
  printed too (gateway clock), with the number of acknowledged turns; and the
  gateway's own breakdown per stage: end of speech -> final transcript
  (silence threshold + recognition), final transcript -> Rasa reply, Rasa
  reply -> first outbound frame (voice formatting + TTS + send);
* CPU per call: the gateway process's CPU seconds per second of wall time,
  divided by the number of concurrent calls;
* recognition real-time factor (CPU seconds per second of audio decoded);
* outbound underruns (a frame sent after Twilio should already have been
  playing it; and, on the simulator side, playback finding an empty buffer);
* event-loop lateness of a 20 ms timer, in the gateway (its real-time path: every
  call's inbound frames, VAD, timers and outbound frames) and in this process (the
  simulated callers' own clock, which the caller-side figure depends on).

``--chat-nice N`` runs the Rasa server and the action server at nice N (lower CPU
priority than the gateway), as a deployment would (docs/voice.md, "CPU priority").

Setup: the gateway runs as its own process (``python -m voice``), pinned to
at most 2 CPUs, with a fake Twilio REST API on loopback.  By default it talks to
the REAL Rasa server and action server (started as the tests start them,
tests/servers.py): each recognised tone word is replaced, by a loopback proxy, with
the next of the project's dev-set questions (benchmarks/data/dev), so every turn is a
real question with a real answer, and answers vary (few TTS cache hits).
``--bot fake`` uses the fake Rasa instead (35 ms answer delay, every answer unique).
With VOSK_MODEL_PATH unset, the tiny test model is built and callers "speak" its tone
words; with a real model, callers play the shared 8 kHz recordings instead.

Targets: end of speech -> first outbound frame p95 <= 800 ms; 20 concurrent
calls on 2 cores with 0 underruns.

Usage: .venv-ml/bin/python benchmarks/voice_latency.py [--turns 3] [--calls 1 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import ClientSession, web

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bot")]

from benchmarks.voice_speech import dev_questions  # noqa: E402
from tests.servers import Servers  # noqa: E402
from tests.voice.support.fakes import FakeRasa, FakeTwilioRest, answer_message  # noqa: E402
from tests.voice.support.simulator import TwilioCallSimulator  # noqa: E402
from tests.voice.support.tiny_model import build_tiny_model, tone_burst  # noqa: E402
from voice.audio import read_wav  # noqa: E402

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-token"
WORDS = ["hai", "ba", "bảy", "tám", "chín"]
SPEECH_DIR = Path(
    os.environ.get("SPEECH_DIR", REPO.parent / "shared" / "data" / "speech" / "vi_commands_8k")
)
TARGET_P95_MS = 800.0
#: A caller speaks after this much silence from the bot: more than the gap between an answer's first
#: clip and its remainder (synthesised while the first plays), so that no question lands inside an
#: answer -- the gateway would then measure the next turn behind the rest of the previous answer.
QUIET_S = 1.5


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no data."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def renice_tree(pid: int, niceness: int) -> int:
    """Set the nice value of every thread of ``pid`` and of its children; returns threads changed.

    Linux keeps a nice value per thread, and threads inherit it when they are created, so the
    threads already running are changed one by one (what ``nice -n N`` at start-up gives at once).
    """
    changed = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
            changed += 1
        except (ProcessLookupError, PermissionError):
            continue
        children = task / "children"
        if children.exists():
            for child in children.read_text().split():
                changed += renice_tree(int(child), niceness)
    return changed


class LoopLag:
    """Lateness of a 20 ms timer on this process's loop (the simulated callers' clock)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.02
            await asyncio.sleep(0.02)
            self.samples.append(max(0.0, loop.time() - due) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique_script() -> Any:
    """Fake-Rasa script whose every answer differs (defeats the TTS cache); the real bot's payload shape."""
    counter = itertools.count(1)

    def script(message: str) -> list[dict[str, Any]]:
        n = next(counter)
        return [answer_message("1.001234", f"Thủ tục thử số {n}", "fee", f"Lệ phí: {n * 1000} đồng", fee=n * 1000)]

    return script


class QuestionProxy:
    """Loopback proxy to the real Rasa REST webhook: a tone word becomes the next dev-set question."""

    def __init__(self, target: str, questions: list[str]) -> None:
        self.target = target
        self.questions = itertools.cycle(questions)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not str(body.get("message", "")).startswith("số "):  # keypad choices pass through
            body["message"] = next(self.questions)
        assert self._http is not None
        async with self._http.post(self.target, json=body) as resp:
            return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")

    async def start(self) -> QuestionProxy:
        self._http = ClientSession()
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()


class Speech:
    """What simulated callers say: tone words (tiny model) or real recordings."""

    def __init__(self, real_model: bool) -> None:
        self.clips: list[np.ndarray] = []
        if real_model:
            text = SPEECH_DIR / "text"
            if not text.exists():
                raise SystemExit(f"shared recordings not found at {SPEECH_DIR} (set SPEECH_DIR)")
            for line in text.read_text(encoding="utf-8").splitlines()[:40]:
                name = line.split("|", 1)[0]
                pcm, _rate = read_wav(str(SPEECH_DIR / f"{name}.wav"))
                self.clips.append(np.concatenate([np.zeros(800, np.int16), pcm, np.zeros(800, np.int16)]))
        else:
            self.clips = [tone_burst(w, lead_s=0.1, tail_s=0.1) for w in WORDS]
        self._next = itertools.cycle(self.clips)

    def next(self) -> np.ndarray:
        return next(self._next)


async def one_call(
    url: str, speech: Speech, turns: int, latencies: list[float], sims: list[Any], delay_s: float
) -> None:
    await asyncio.sleep(delay_s)
    sim = TwilioCallSimulator(url, AUTH_TOKEN, account_sid=ACCOUNT_SID)
    sims.append(sim)
    resp = await sim.place_call()
    assert resp.status == 200, sim.twiml
    await sim.connect()
    await sim.wait_until(lambda: sim.media_frames > 0, timeout=30)
    for _ in range(turns):
        await sim.wait_bot_quiet(timeout=180, quiet_s=QUIET_S)
        utt = sim.say(speech.next())
        await utt.done.wait()
        await sim.wait_until(lambda u=utt: sim.first_media_after(u.last_voiced) is not None, timeout=30)
        latencies.append(sim.first_media_after(utt.last_voiced) - utt.last_voiced)  # type: ignore[operator]
        await asyncio.sleep(0.5)  # let the answer start playing
    await sim.wait_bot_quiet(timeout=180, quiet_s=QUIET_S)
    await sim.hang_up()


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


async def scenario(
    url: str, pid: int, n_calls: int, turns: int, speech: Speech, stagger_s: float = 0.0
) -> dict[str, Any]:
    before = get_json(f"{url}/metrics")
    n_before = len(before["finished"])
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    load0 = os.getloadavg()[0]
    latencies: list[float] = []
    sims: list[TwilioCallSimulator] = []
    try:
        with LoopLag() as sim_lag:
            await asyncio.gather(
                *(one_call(url, speech, turns, latencies, sims, i * stagger_s / n_calls) for i in range(n_calls))
            )
    finally:
        await asyncio.gather(*(s.close() for s in sims), return_exceptions=True)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    load1 = os.getloadavg()[0]
    await asyncio.sleep(0.5)
    after = get_json(f"{url}/metrics?loop_lag_since={before['loop_time']}")
    calls = after["finished"][n_before:]
    turns_data = [t for c in calls for t in c["turns"] if t["total_ms"] is not None]
    asr0, asr1 = before["asr"], after["asr"]
    audio = asr1["audio_s"] - asr0["audio_s"]
    return {
        "calls": n_calls,
        "turns": len(latencies),
        "e2e_ms": [x * 1000 for x in latencies],
        "endpoint_ms": [t["endpoint_ms"] for t in turns_data],
        "rasa_ms": [t["rasa_ms"] for t in turns_data if t["rasa_ms"] is not None],
        "tts_ms": [t["tts_ms"] for t in turns_data],
        "server_total_ms": [t["total_ms"] for t in turns_data],
        "answer_ms": [t["answer_ms"] for t in turns_data if t.get("answer_ms") is not None],
        "acknowledged": sum(1 for t in turns_data if t.get("acknowledged")),
        "cpu_per_call": (cpu1 - cpu0) / (t1 - t0) / n_calls,
        "rtf": (asr1["cpu_s"] - asr0["cpu_s"]) / audio if audio else float("nan"),
        "underruns_server": sum(c["underruns"] for c in calls),
        "underruns_client": sum(s.underruns for s in sims),
        "frames": sum(c["frames_sent"] for c in calls),
        "gateway_lag_ms": after.get("loop_lag_ms", []),
        "sim_lag_ms": sim_lag.samples,
        "load": (load0, load1),
    }


def print_table(results: list[dict[str, Any]], model: str, args: argparse.Namespace, bot: str, nice: int) -> None:
    print(f"\nvoice gateway latency -- Rasa: {bot}; model: {model}; silence threshold {args.silence_ms} ms; "
          f"ACK_AFTER_MS {args.ack_after_ms if args.ack_after_ms is not None else 'default'}; "
          f"chat servers at nice {nice}; "
          f"{os.cpu_count()} CPUs on this machine, gateway pinned to <= 2")
    header = f"{'stage (ms)':<44}" + "".join(
        f"{str(r['calls']) + ' call(s) p50':>16}{'p95':>8}" for r in results
    )
    print(header)
    print("-" * len(header))
    rows = [
        ("end of speech -> first outbound frame (caller)", "e2e_ms"),
        ("  end of speech -> final transcript", "endpoint_ms"),
        ("  final transcript -> Rasa reply", "rasa_ms"),
        ("  Rasa reply -> first outbound frame", "tts_ms"),
        ("  end of speech -> first frame (gateway clock)", "server_total_ms"),
        ("end of speech -> first frame of the ANSWER", "answer_ms"),
        ("gateway loop: 20 ms timer fired late by", "gateway_lag_ms"),
        ("simulator loop: 20 ms timer fired late by", "sim_lag_ms"),
    ]
    for label, key in rows:
        print(f"{label:<44}" + "".join(f"{pct(r[key], 50):>16.0f}{pct(r[key], 95):>8.0f}" for r in results))
    print(f"{'CPU per call (fraction of one core)':<44}" + "".join(f"{r['cpu_per_call']:>24.3f}" for r in results))
    print(f"{'recognition real-time factor':<44}" + "".join(f"{r['rtf']:>24.4f}" for r in results))
    print(f"{'outbound underruns gateway/simulator':<44}"
          + "".join(f"{str(r['underruns_server']) + ' / ' + str(r['underruns_client']):>24}" for r in results))
    print(f"{'turns with the acknowledgement first':<44}"
          + "".join(f"{str(r['acknowledged']) + ' / ' + str(r['turns']):>24}" for r in results))
    print(f"{'turns measured / frames sent':<44}" + "".join(f"{str(r['turns']) + ' / ' + str(r['frames']):>24}" for r in results))
    print(f"{'loop lag max gateway / simulator (ms)':<44}"
          + "".join(f"{max(r['gateway_lag_ms'], default=0):>15.0f} / {max(r['sim_lag_ms'], default=0):<6.0f}" for r in results))
    print(f"{'load average (1 min) at start / end':<44}"
          + "".join(f"{r['load'][0]:>15.2f} / {r['load'][1]:<6.2f}" for r in results))
    ok = all(pct(r["e2e_ms"], 95) <= TARGET_P95_MS for r in results)
    clean = all(r["underruns_server"] == 0 and r["underruns_client"] == 0 for r in results)
    print(f"\ntarget p95 <= {TARGET_P95_MS:.0f} ms: {'MET' if ok else 'NOT MET'}; "
          f"underruns: {'none' if clean else 'SOME'}")


async def main_async(args: argparse.Namespace) -> int:
    real = os.environ.get("VOSK_MODEL_PATH", "")
    tmp = tempfile.TemporaryDirectory(prefix="voice-bench-")
    model = Path(real) if real else build_tiny_model(Path(tmp.name) / "tiny", runtime_graph=True)
    speech = Speech(real_model=bool(real))
    servers: Servers | None = None
    proxy: QuestionProxy | None = None
    rasa: FakeRasa | None = None
    if args.bot == "real":
        servers = Servers(Path(tmp.name)).start()
        proxy = await QuestionProxy(f"{servers.url}/webhooks/rest/webhook", dev_questions(100)).start()
        rasa_url = proxy.url
    else:
        rasa = await FakeRasa(script=unique_script(), delay_s=args.rasa_delay_ms / 1000).start()
        rasa_url = rasa.url
    twilio = await FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "VOSK_MODEL_PATH": str(model),
        "RASA_URL": rasa_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio.url,
        "PUBLIC_BASE_URL": url,
        "SILENCE_MS": str(args.silence_ms),
        "TTS_CACHE_DIR": str(Path(tmp.name) / "tts"),
        "ASR_WORKERS": "2",
        "NO_INPUT_TIMEOUT_MS": "60000",
    }
    if args.ack_after_ms is not None:
        env["ACK_AFTER_MS"] = str(args.ack_after_ms)
    proc = subprocess.Popen(
        [sys.executable, "-m", "voice", "--port", str(port), "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
    )
    try:
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(proc.pid, set(cpus))
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(f"{url}/healthz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    print("gateway failed to start", file=sys.stderr)
                    return 1
                await asyncio.sleep(0.2)
        # Warm-up: fixed prompts (welcome) get cached, as in a running service.
        await scenario(url, proc.pid, 1, 1, speech)
        bot = "real Rasa + action server (dev-set questions)" if servers else f"fake ({args.rasa_delay_ms:.0f} ms)"
        for nice in args.chat_nice:
            if servers is not None:
                n = sum(renice_tree(p.pid, nice) for p in servers.procs)
                print(f"Rasa and action servers: {n} threads at nice {nice}", file=sys.stderr)
            results = [await scenario(url, proc.pid, n, args.turns, speech, args.stagger_s) for n in args.calls]
            print_table(results, model.name if real else "tiny test model (tone words)", args, bot, nice)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if rasa is not None:
            await rasa.stop()
        if proxy is not None:
            await proxy.stop()
        if servers is not None:
            servers.stop()
        await twilio.stop()
        tmp.cleanup()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--silence-ms", type=int, default=500)
    parser.add_argument("--bot", choices=["real", "fake"], default="real",
                        help="the real Rasa + action servers (default) or the fake Rasa")
    parser.add_argument("--rasa-delay-ms", type=float, default=35.0, help="fake Rasa only")
    parser.add_argument("--ack-after-ms", type=int, default=None,
                        help="the gateway's ACK_AFTER_MS (default: the gateway's default)")
    parser.add_argument("--chat-nice", type=int, nargs="+", default=[0],
                        help="run the Rasa and action servers at this nice value (0: same priority as the "
                             "gateway); several values: the scenarios are run once per value, in order")
    parser.add_argument(
        "--stagger-s", type=float, default=4.0,
        help="spread call arrivals over this many seconds (0 = all callers speak in lockstep)",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
