"""Multi-turn conversation suite over REST: pass rates per category and split, "confident wrong" turns, latency.

Plays every conversation of ``benchmarks/data/conversations/*.yaml`` (format: docs/conversations.md)
against the real assistant, each with a fresh sender id, checks every turn's expectations on the
structured REST payload (bot/channels/rest.py) and prints figures. A benchmark, not a test: no
asserts, exit status 0 once the suite has been played (a malformed suite file is an error).

    PYTHONPATH=$PWD:$PWD/bot .venv-ml/bin/python benchmarks/conversations.py --split all
    .venv-ml/bin/python benchmarks/conversations.py --url http://127.0.0.1:5005 --split test
    .venv-ml/bin/python benchmarks/conversations.py --out-of-scope           # off-topic first turns
    .venv-ml/bin/python benchmarks/conversations.py --category follow_up --show-failures 50 --json out.json

Without ``--url`` it starts the action server and the Rasa server itself (tests/servers.py, ~60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SUITE_DIR = REPO / "benchmarks" / "data" / "conversations"
OUT_OF_SCOPE_FILE = REPO / "benchmarks" / "data" / "out_of_scope.jsonl"
CATALOGUE_DIR = REPO / "knowledge_base" / "catalogue"

CATEGORIES = ("follow_up", "refinement", "switching", "disambiguation", "out_of_scope", "garbage", "handoff", "diacritics")
# tune: what the resolver was tuned on; test: held out while tuning; heldout: written blind after
# the tuning, by someone who had not seen the resolver (docs/conversations.md); once a heldout set has
# been used to find defects, the next blind set gets its own split (blind2 to blind7: written 2026-12-02; blind8: 2026-12-03).
SPLITS = ("tune", "test", "heldout", "blind2", "blind3", "blind4", "blind5", "blind6", "blind7", "blind8")
# The out-of-scope target set is tune + test (out_of_scope.jsonl); blind1 (out_of_scope_blind1.jsonl) was
# written blind afterwards and is reported on its own.
OUT_OF_SCOPE_SPLITS = ("tune", "test", "blind1")
OUT_OF_SCOPE_BLIND_FILE = REPO / "benchmarks" / "data" / "out_of_scope_blind1.jsonl"
ASPECTS = ("overview", "documents", "fee", "duration", "where", "steps", "online", "legal_basis")
CONVERSATION_KEYS = {"id", "category", "split", "turns", "note"}
TURN_KEYS = {
    "user", "expect_code", "expect_aspect", "expect_choice", "expect_candidates_include", "expect_chosen",
    "expect_fallback", "expect_rephrase", "expect_handoff", "expect_text", "forbid_text", "forbid_code", "note",
}
MIN_TURNS, MAX_TURNS = 3, 6
# What a "please rephrase" reply must say (matched on the text and on its accent-folded form).
REPHRASE_PATTERN = os.environ.get(
    "REPHRASE_PATTERN",
    r"(nói rõ|diễn đạt|hỏi lại|chưa hiểu|viết lại|nhắc lại|noi ro|dien dat|hoi lai|chua hieu|viet lai|nhac lai)",
)
ABBREVIATIONS = {"ko", "k", "kh", "hok", "dc", "đc", "mk", "ntn", "bn", "j", "mn", "z", "ak", "nhiu", "vs", "cx", "ng", "tks"}


class SuiteFormatError(ValueError):
    """A conversation file that does not follow docs/conversations.md (the message names the conversation)."""


# --------------------------------------------------------------------------- loading and validation


def catalogue_codes(directory: Path = CATALOGUE_DIR) -> set[str]:
    """The procedure codes of the curated catalogue (knowledge_base/catalogue/*.yaml)."""
    codes: set[str] = set()
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        codes.update(str(p["code"]) for p in data.get("procedures", []))
    return codes


def _codes(value: Any, where: str, key: str, known: set[str]) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(c, str) and c.strip() for c in items):
        raise SuiteFormatError(f"{where}: `{key}` must be a procedure code or a list of codes (quoted strings), got {value!r}")
    unknown = [c for c in items if c not in known]
    if unknown:
        raise SuiteFormatError(f"{where}: `{key}` names codes not in the curated catalogue: {', '.join(unknown)}")
    return list(items)


def validate_turn(raw: Any, where: str, known: set[str], previous: dict | None) -> dict:
    if not isinstance(raw, dict):
        raise SuiteFormatError(f"{where}: a turn must be a mapping with at least `user`, got {raw!r}")
    unknown = set(raw) - TURN_KEYS
    if unknown:
        raise SuiteFormatError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TURN_KEYS))}")
    text = raw.get("user")
    if not isinstance(text, str) or not text.strip():
        raise SuiteFormatError(f"{where}: `user` must be a non-empty string")
    turn: dict[str, Any] = {"user": text}
    for key in ("expect_choice", "expect_fallback", "expect_rephrase", "expect_handoff"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise SuiteFormatError(f"{where}: `{key}` must be true or false, got {raw[key]!r}")
            turn[key] = raw[key]
    for key in ("expect_code", "forbid_code", "expect_candidates_include"):
        if key in raw:
            turn[key] = _codes(raw[key], where, key, known)
    if "expect_aspect" in raw:
        if raw["expect_aspect"] not in ASPECTS:
            raise SuiteFormatError(f"{where}: unknown aspect {raw['expect_aspect']!r}; allowed: {', '.join(ASPECTS)}")
        turn["expect_aspect"] = raw["expect_aspect"]
    for key in ("expect_text", "forbid_text"):
        if key in raw:
            try:
                re.compile(str(raw[key]))
            except re.error as exc:
                raise SuiteFormatError(f"{where}: `{key}` is not a valid regular expression: {exc}") from exc
            turn[key] = str(raw[key])
    if "expect_chosen" in raw:
        value = raw["expect_chosen"]
        if not (value == "last" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9)):
            raise SuiteFormatError(f"{where}: `expect_chosen` must be an option number 1..9 or \"last\", got {value!r}")
        if not previous or not previous.get("expect_choice"):
            raise SuiteFormatError(f"{where}: `expect_chosen` needs the previous turn to have `expect_choice: true`")
        turn["expect_chosen"] = value
    if "expect_candidates_include" in turn and not turn.get("expect_choice"):
        raise SuiteFormatError(f"{where}: `expect_candidates_include` only makes sense with `expect_choice: true`")
    no_procedure = [k for k in ("expect_fallback", "expect_rephrase") if turn.get(k)]
    if no_procedure and ("expect_code" in turn or turn.get("expect_choice") or "expect_chosen" in turn):
        raise SuiteFormatError(f"{where}: `{no_procedure[0]}` says no procedure is named; it cannot go with a code or a choice")
    if turn.get("expect_choice") and "expect_code" in turn:
        raise SuiteFormatError(f"{where}: `expect_choice` (no procedure named yet) cannot go with `expect_code`; "
                               "use `expect_candidates_include`")
    if set(turn.get("expect_code", [])) & set(turn.get("forbid_code", [])):
        raise SuiteFormatError(f"{where}: a code is both expected and forbidden")
    if "note" in raw:
        turn["note"] = str(raw["note"])
    return turn


def validate_conversation(raw: Any, source: str, known: set[str]) -> dict:
    if not isinstance(raw, dict):
        raise SuiteFormatError(f"{source}: each entry of `conversations` must be a mapping, got {raw!r}")
    cid = raw.get("id")
    if not isinstance(cid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", cid or ""):
        raise SuiteFormatError(f"{source}: conversation id {cid!r} must be a lower-case identifier (a-z, 0-9, _ or -)")
    where = f"{source}: conversation {cid!r}"
    unknown = set(raw) - CONVERSATION_KEYS
    if unknown:
        raise SuiteFormatError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(CONVERSATION_KEYS))}")
    if raw.get("category") not in CATEGORIES:
        raise SuiteFormatError(f"{where}: unknown category {raw.get('category')!r}; allowed: {', '.join(CATEGORIES)}")
    if raw.get("split") not in SPLITS:
        raise SuiteFormatError(f"{where}: split must be one of {', '.join(SPLITS)}, got {raw.get('split')!r}")
    turns = raw.get("turns")
    if not isinstance(turns, list) or not MIN_TURNS <= len(turns) <= MAX_TURNS:
        n = len(turns) if isinstance(turns, list) else "no"
        raise SuiteFormatError(f"{where}: has {n} turns; a conversation has {MIN_TURNS} to {MAX_TURNS}")
    checked: list[dict] = []
    for i, t in enumerate(turns, 1):
        checked.append(validate_turn(t, f"{where} turn {i}", known, checked[-1] if checked else None))
    if not any(len(t) > 1 for t in checked):
        raise SuiteFormatError(f"{where}: no turn states an expectation")
    return {"id": cid, "category": raw["category"], "split": raw["split"], "turns": checked,
            "note": str(raw.get("note", "")), "source": source}


def load_suite(directory: Path = SUITE_DIR, known: set[str] | None = None) -> list[dict]:
    """Every conversation of ``directory/*.yaml``, validated; raises SuiteFormatError naming the culprit."""
    known = catalogue_codes() if known is None else known
    conversations: list[dict] = []
    seen: dict[str, str] = {}
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise SuiteFormatError(f"no conversation files (*.yaml) in {directory}")
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SuiteFormatError(f"{path.name}: not valid YAML: {exc}") from exc
        conversations += load_documents(data, path.name, known, seen)
    return conversations


def load_documents(data: Any, source: str, known: set[str], seen: dict[str, str] | None = None) -> list[dict]:
    """Validate one parsed file (``{"conversations": [...]}``)."""
    seen = {} if seen is None else seen
    if not isinstance(data, dict) or set(data) != {"conversations"} or not isinstance(data["conversations"], list):
        raise SuiteFormatError(f"{source}: the file must hold exactly one key, `conversations`, with a list")
    out = []
    for raw in data["conversations"]:
        conv = validate_conversation(raw, source, known)
        if conv["id"] in seen:
            raise SuiteFormatError(f"{source}: conversation {conv['id']!r} duplicates an id already used in {seen[conv['id']]}")
        seen[conv["id"]] = source
        out.append(conv)
    return out


def load_out_of_scope(paths: tuple[Path, ...] = (OUT_OF_SCOPE_FILE, OUT_OF_SCOPE_BLIND_FILE)) -> list[dict]:
    items = []
    for path in paths:
        if path.exists():
            items += _load_out_of_scope_file(path)
    return items


def _load_out_of_scope_file(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteFormatError(f"{path.name} line {n}: not JSON: {exc}") from exc
        if not isinstance(item, dict) or set(item) != {"question", "split"} or item["split"] not in OUT_OF_SCOPE_SPLITS \
                or not isinstance(item["question"], str) or not item["question"].strip():
            raise SuiteFormatError(f"{path.name} line {n}: expected {{\"question\": text, \"split\": "
                                   f"{'|'.join(OUT_OF_SCOPE_SPLITS)}}}")
        items.append(item)
    return items


# --------------------------------------------------------------------------- checking one turn


def fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if unicodedata.category(c) != "Mn").lower()


def text_style(text: str) -> str:
    """``abbrev`` (chat abbreviations), ``no_diacritics``, ``diacritics`` or ``other`` (no Latin letter:
    emoji, Chinese, punctuation) — for the mix figures."""
    if not any("a" <= c <= "z" for c in fold(text)):
        return "other"
    words = set(re.findall(r"\w+", text.lower()))
    if words & ABBREVIATIONS:
        return "abbrev"
    has_letters = any(c.isalpha() and c.isascii() for c in text)
    if has_letters and fold(text) == text.lower():
        return "no_diacritics"
    return "diacritics"


@dataclass
class Reply:
    """What the assistant said in one turn, reduced to what the checks need."""

    codes: list[str]
    aspect: str | None
    confidence: float | None
    candidates: list[str]
    choice: bool
    handoff: bool
    text: str
    latency_ms: float = 0.0
    error: str | None = None

    @classmethod
    def from_messages(cls, messages: Any, latency_ms: float = 0.0, error: str | None = None) -> Reply:
        msgs = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        customs = [m.get("custom") or {} for m in msgs]
        codes = [c["procedure_code"] for c in customs if c.get("procedure_code")]
        named = next((c for c in customs if c.get("procedure_code")), None)
        choice_msg = next((m for m in msgs if not (m.get("custom") or {}).get("procedure_code")
                           and len((m.get("custom") or {}).get("candidates") or []) >= 2 and m.get("buttons")), None)
        main = named or ((choice_msg or {}).get("custom")) or (customs[-1] if customs else {})
        candidates = [c.get("code") for c in ((choice_msg or {}).get("custom") or {}).get("candidates") or []]
        return cls(
            codes=codes,
            aspect=main.get("aspect"),
            confidence=main.get("confidence"),
            candidates=candidates,
            choice=choice_msg is not None,
            handoff=any(c.get("handoff") is True for c in customs),
            text="\n".join(m.get("text") or "" for m in msgs),
            latency_ms=latency_ms,
            error=error,
        )

    def summary(self) -> str:
        what = f"choice{self.candidates}" if self.choice else (",".join(self.codes) or "no code")
        flat = " ".join(self.text.split())
        return f"{what} aspect={self.aspect} conf={self.confidence} | {flat[:80]}"


def expected_summary(turn: dict) -> str:
    parts = []
    for key in ("expect_code", "expect_aspect", "expect_choice", "expect_candidates_include", "expect_chosen",
                "expect_fallback", "expect_rephrase", "expect_handoff", "expect_text", "forbid_text", "forbid_code"):
        if key in turn:
            parts.append(f"{key.removeprefix('expect_')}={turn[key]}")
    return " ".join(parts) or "(setup turn)"


def chosen_code(turn: dict, previous_choice: list[str]) -> str | None:
    value = turn.get("expect_chosen")
    if value is None or not previous_choice:
        return None
    index = len(previous_choice) if value == "last" else value
    return previous_choice[index - 1] if 1 <= index <= len(previous_choice) else None


def check_turn(turn: dict, reply: Reply, previous_choice: list[str] | None = None, hotline: str = "1022",
               min_confidence: float = 0.5, rephrase_pattern: str = REPHRASE_PATTERN) -> dict:
    """Check one turn. Returns {ok, reasons, confident_wrong, wrong_kind}; ``previous_choice`` is the
    candidate list of the bot's previous choice question (for ``expect_chosen``)."""
    reasons: list[str] = []
    previous_choice = previous_choice or []
    named = set(reply.codes)
    text = reply.text
    if reply.error:
        reasons.append(f"no reply: {reply.error}")
    expected = set(turn.get("expect_code", []))
    if "expect_chosen" in turn:
        code = chosen_code(turn, previous_choice)
        if code is None:
            reasons.append(f"option {turn['expect_chosen']} does not exist in the previous choice {previous_choice}")
        elif code not in named:
            reasons.append(f"expected option {turn['expect_chosen']} ({code}) of the previous choice, got {sorted(named) or 'no code'}")
        if code:
            expected = expected & {code} if expected else {code}
    if "expect_code" in turn and not (named & set(turn["expect_code"])):
        reasons.append(f"expected code {turn['expect_code']}, got {sorted(named) or ('a choice' if reply.choice else 'no code')}")
    if "expect_aspect" in turn and reply.aspect != turn["expect_aspect"]:
        reasons.append(f"expected aspect {turn['expect_aspect']}, got {reply.aspect}")
    if "expect_choice" in turn:
        if turn["expect_choice"] and not (reply.choice and not named):
            reasons.append("expected a choice question (no code, >=2 candidates, buttons)")
        if not turn["expect_choice"] and reply.choice:
            reasons.append("expected no choice question")
    if "expect_candidates_include" in turn:
        missing = [c for c in turn["expect_candidates_include"] if c not in reply.candidates]
        if missing:
            reasons.append(f"choice lacks candidates {missing} (offered {reply.candidates})")
    if turn.get("expect_fallback") is not None:
        is_fallback = not named and not reply.choice and hotline in text
        if turn["expect_fallback"] and not is_fallback:
            reasons.append(f"expected the fallback (no code, no choice, hotline {hotline})")
        if not turn["expect_fallback"] and is_fallback:
            reasons.append("expected no fallback")
    if turn.get("expect_rephrase") is not None:
        asks = bool(re.search(rephrase_pattern, text, re.I) or re.search(rephrase_pattern, fold(text), re.I))
        is_rephrase = not named and not reply.choice and asks
        if turn["expect_rephrase"] and not is_rephrase:
            reasons.append("expected a request to rephrase (no code, no choice)")
        if not turn["expect_rephrase"] and is_rephrase:
            reasons.append("expected no request to rephrase")
    if turn.get("expect_handoff") is not None:
        handed = reply.handoff or (hotline in text and not named)
        if turn["expect_handoff"] and not handed:
            reasons.append("expected a hand-off (custom.handoff or the hotline)")
        if not turn["expect_handoff"] and reply.handoff:
            reasons.append("expected no hand-off")
    if "expect_text" in turn and not re.search(turn["expect_text"], text, re.I):
        reasons.append(f"text does not match /{turn['expect_text']}/")
    if "forbid_text" in turn and re.search(turn["forbid_text"], text, re.I):
        reasons.append(f"text matches forbidden /{turn['forbid_text']}/")
    forbidden = set(turn.get("forbid_code", []))
    if named & forbidden:
        reasons.append(f"named forbidden code(s) {sorted(named & forbidden)}")

    # "confident wrong": the bot stated a procedure (or offered options) the turn rules out.
    wrong_kind = None
    no_procedure = bool(turn.get("expect_fallback") or turn.get("expect_rephrase"))
    acceptable = expected | set(turn.get("expect_candidates_include", []))
    judged = bool(acceptable) or no_procedure or bool(forbidden)
    if named and judged:
        bad = (named & forbidden) or (named - acceptable if (acceptable or no_procedure) else set())
        confident = reply.confidence is None or reply.confidence >= min_confidence
        if bad and confident:
            wrong_kind = "answer"
    elif reply.choice and judged:
        offered = set(reply.candidates)
        if (offered & forbidden) or no_procedure or (acceptable and not (offered & acceptable)):
            wrong_kind = "choice"
    return {"ok": not reasons, "reasons": reasons, "confident_wrong": wrong_kind is not None, "wrong_kind": wrong_kind}


# --------------------------------------------------------------------------- playing


class Client:
    def __init__(self, url: str, timeout: float = 60) -> None:
        self.url = url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout = timeout

    def say(self, sender: str, text: str) -> Reply:
        data = json.dumps({"sender": sender, "message": text}).encode("utf-8")
        req = urllib.request.Request(self.url, data=data, headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                messages = json.loads(resp.read())
            error = None if messages else "empty reply"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            messages, error = [], f"{type(exc).__name__}: {exc}"
        return Reply.from_messages(messages, (time.perf_counter() - start) * 1000, error)


def play(client: Client, conv: dict, run_id: str, hotline: str, min_confidence: float) -> dict:
    sender = f"bench-{run_id}-{conv['id']}"
    previous_choice: list[str] = []
    turns = []
    for i, turn in enumerate(conv["turns"], 1):
        reply = client.say(sender, turn["user"])
        result = check_turn(turn, reply, previous_choice, hotline, min_confidence)
        if reply.choice:
            previous_choice = reply.candidates
        turns.append({"turn": i, "user": turn["user"], "style": text_style(turn["user"]), "expected": expected_summary(turn),
                      "got": reply.summary(), "codes": reply.codes, "aspect": reply.aspect, "confidence": reply.confidence,
                      "choice": reply.candidates if reply.choice else None, "latency_ms": round(reply.latency_ms, 1),
                      "text": reply.text, **result})
    return {"id": conv["id"], "category": conv["category"], "split": conv["split"], "source": conv["source"],
            "ok": all(t["ok"] for t in turns), "turns": turns}


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}% ({k}/{n})" if n else "—"


def print_tables(results: list[dict]) -> None:
    from benchmarks.common import table

    def row(name: str, rs: list[dict]) -> list:
        turns = [t for r in rs for t in r["turns"]]
        return [name, pct(sum(t["ok"] for t in turns), len(turns)), pct(sum(r["ok"] for r in rs), len(rs)),
                sum(t["confident_wrong"] for t in turns)]

    header = ["", "turns passed", "conversations passed", "confident wrong"]
    rows = [row(c, [r for r in results if r["category"] == c]) for c in CATEGORIES if any(r["category"] == c for r in results)]
    rows += [row(f"split {s}", [r for r in results if r["split"] == s]) for s in SPLITS if any(r["split"] == s for r in results)]
    rows.append(row("all", results))
    print(table(rows, header))
    turns = [t for r in results for t in r["turns"]]
    styles = [row(f"turns typed {s}", [{"turns": [t for t in turns if t["style"] == s], "ok": True}]) for s in
              ("diacritics", "no_diacritics", "abbrev", "other")]
    print()
    print(table([[r[0], r[1], r[3]] for r in styles], ["by style", "turns passed", "confident wrong"]))


def print_failures(results: list[dict], limit: int) -> None:
    failed = [(r, t) for r in results for t in r["turns"] if not t["ok"]]
    print(f"\nFailing turns: {len(failed)} (showing {min(limit, len(failed))}; --show-failures N for more)")
    for r, t in failed[:limit]:
        flag = f" [CONFIDENT WRONG: {t['wrong_kind']}]" if t["confident_wrong"] else ""
        print(f"- {r['id']} #{t['turn']} [{r['category']}/{r['split']}]{flag} user: {t['user']!r}")
        print(f"    expected: {t['expected']}")
        print(f"    got:      {t['got']}")
        print(f"    why:      {'; '.join(t['reasons'])}")


def print_slowest(results: list[dict], n: int = 10) -> None:
    turns = sorted(((t["latency_ms"], r["id"], t["turn"], t["user"]) for r in results for t in r["turns"]), reverse=True)
    print(f"\n{n} slowest turns:")
    for ms, cid, i, user in turns[:n]:
        print(f"  {ms:8.1f} ms  {cid} #{i}  {user[:60]!r}")
    lat = sorted(t["latency_ms"] for r in results for t in r["turns"])
    if lat:
        print(f"  median {lat[len(lat) // 2]:.1f} ms, p95 {lat[min(len(lat) - 1, int(0.95 * len(lat)))]:.1f} ms over {len(lat)} turns")


def run_out_of_scope(client: Client, items: list[dict], run_id: str, hotline: str, limit: int) -> dict:
    results = []
    for n, item in enumerate(items):
        reply = client.say(f"oos-{run_id}-{n}", item["question"])
        fallback = not reply.codes and not reply.choice and not reply.error
        results.append({"question": item["question"], "split": item["split"], "style": text_style(item["question"]),
                        "fallback": fallback, "hotline": hotline in reply.text, "got": reply.summary(),
                        "latency_ms": round(reply.latency_ms, 1)})
    print("Out-of-scope first turns: share that got the fallback (no procedure named, no choice)")
    for split in (*OUT_OF_SCOPE_SPLITS, "tune+test"):
        rs = [r for r in results if r["split"] == split or (split == "tune+test" and r["split"] in ("tune", "test"))]
        if rs:
            print(f"  {split:9s} fallback {pct(sum(r['fallback'] for r in rs), len(rs))}; "
                  f"with hotline {hotline}: {pct(sum(r['fallback'] and r['hotline'] for r in rs), len(rs))}")
    for style in ("diacritics", "no_diacritics", "abbrev"):
        rs = [r for r in results if r["style"] == style]
        if rs:
            print(f"  typed {style:13s} fallback {pct(sum(r['fallback'] for r in rs), len(rs))}")
    failed = [r for r in results if not r["fallback"]]
    print(f"\nNot the fallback: {len(failed)} (showing {min(limit, len(failed))})")
    for r in failed[:limit]:
        print(f"- [{r['split']}] {r['question']!r}\n    got: {r['got']}")
    return {"mode": "out_of_scope", "results": results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running assistant (e.g. http://127.0.0.1:5005); default: start both servers")
    ap.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    ap.add_argument("--category", choices=CATEGORIES)
    ap.add_argument("--json", type=Path, help="write the full results here")
    ap.add_argument("--show-failures", type=int, default=40, metavar="N")
    ap.add_argument("--out-of-scope", action="store_true", help="ask each question of benchmarks/data/out_of_scope.jsonl")
    ap.add_argument("--hotline", default=os.environ.get("HOTLINE", "1022"))
    args = ap.parse_args(argv)
    min_confidence = float(os.environ.get("ANSWER_MIN_CONFIDENCE", "0.5"))

    if args.out_of_scope:
        items = [i for i in load_out_of_scope() if args.split == "all" or i["split"] == args.split]
        suite: list[dict] = []
    else:
        suite = [c for c in load_suite() if (args.split == "all" or c["split"] == args.split)
                 and (not args.category or c["category"] == args.category)]
        print(f"{len(suite)} conversations, {sum(len(c['turns']) for c in suite)} turns "
              f"(split={args.split}{', category=' + args.category if args.category else ''})")

    servers = None
    if args.url:
        url = args.url
    else:
        from tests.servers import Servers

        print("starting the action server and the Rasa server (about a minute)…", flush=True)
        servers = Servers(Path(tempfile.mkdtemp(prefix="conv-bench-"))).start()
        url = servers.url
    run_id = uuid.uuid4().hex[:8]
    client = Client(url)
    client.say(f"warmup-{run_id}", "xin chào")  # the first request loads models: keep it out of the latencies
    started = time.perf_counter()
    try:
        if args.out_of_scope:
            report = run_out_of_scope(client, items, run_id, args.hotline, args.show_failures)
        else:
            results = [play(client, c, run_id, args.hotline, min_confidence) for c in suite]
            print(f"played in {time.perf_counter() - started:.0f} s against {url}; "
                  f"confident wrong = a named procedure the turn rules out with confidence >= {min_confidence} "
                  "(or no confidence), or a choice offering a forbidden procedure or no acceptable one\n")
            print_tables(results)
            print_failures(results, args.show_failures)
            print_slowest(results)
            report = {"mode": "conversations", "url": url, "split": args.split, "category": args.category,
                      "min_confidence": min_confidence, "results": results}
    finally:
        if servers is not None:
            servers.stop()
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nfull results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
