"""Resolve one user turn against the conversation state: answer, ask which one, or admit ignorance.

Kept apart from rasa-sdk so every decision can be tested without a tracker.
The order of the checks is the policy, read top to bottom:

1. not Vietnamese (keyboard noise, emoji, another language) → ask to rephrase;
2. a pending choice answered by number, ordinal or words of one option → that option;
3. only an aspect ("còn lệ phí thì sao?") → the current procedure, or, while a choice is
   pending, the same choice again for the new aspect (one answer when the options agree);
4. only qualifiers ("bị mất", "cho con dưới 14 tuổi", "vợ tôi là người nước ngoài") →
   narrow within the current family of procedures;
5. otherwise search the whole catalogue, and name a procedure only when the NLU and the
   search are both confident (:func:`may_name`, thresholds in ``actions/settings.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from actions.aspects import Parsed, parse
from actions.formatting import INTENT_ASPECT
from actions.state import ConversationState
from knowledge_base import lexicon
from knowledge_base.features import query_text, short_name
from knowledge_base.retrieval import Hit
from knowledge_base.schema import Procedure
from vntext import fold_accents, is_gibberish, normalize_query, syllables

NOT_A_QUESTION = {"out_of_scope", "nlu_fallback", "greet", "goodbye", "thank", "bot_challenge"}

# Qualifier syllables (folded): they refine a procedure but name none by themselves.
QUALIFIERS = frozenset(
    """cap lai doi moi dang ky lam xin gia han do bi mat hong hu thay het cho nguoi con duoi tren tuoi lan
    dau tai cua va voi vo chong nuoc ngoai tinh xa huyen thanh pho tre em lon nho truong hop khi neu
    la da se duoc nay o trong viet nam toi minh ban nha be gai trai ong ba bo me cu chau cac nhung rach
    chay sai sot nhieu thang nam ngay tu du tro len khong co chua muon phai bi""".split()
)

# Words that mark a special-case variant of a procedure ("cấp LẠI", "trình báo MẤT", "DƯỚI 14 tuổi",
# "có yếu tố NƯỚC NGOÀI"). Citizens who do not say them mean the ordinary case.
# Accented on purpose: folded, "lại" (again) would collide with "lái" (drive).
VARIANT_MARKERS = frozenset(
    "lại đổi mất hỏng hư dưới ngoài bổ_sung điều_chỉnh gia_hạn thay_đổi hủy xóa trích_lục cải_chính đã_có "
    "kết_hợp quốc_tế".split()
)
_FOLDED_MARKERS = frozenset(fold_accents(m) for m in VARIANT_MARKERS)

_EITHER_OR = re.compile(r"(?<!\w)(hay|hoac)(?!\w)")

_ORDINAL_WORDS = {
    "mot": 1, "nhat": 1, "dau": 1, "dau tien": 1, "hai": 2, "nhi": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5,
}
_ORDINAL_ACCENTED = {
    "một": 1, "nhất": 1, "đầu": 1, "đầu tiên": 1, "hai": 2, "nhì": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5,
}
_CHOICE_PREFIX = r"(?:(?:tôi|mình|em|cho|chọn|lấy|là|vâng|dạ|ừ|thì)\s+)*(?:(?:cái|số|thứ|phương án|lựa chọn|câu|mục|ý)\s*)*"
_CHOICE_SUFFIX = r"(?:\s+(?:ạ|nhé|nha|đi|thôi|luôn|đó|ấy|á))*"
_LAST = ("cuối", "cuối cùng", "sau cùng")


class Searcher(Protocol):
    """What the resolver needs from the knowledge base (``knowledge_base.retrieval.Searcher``)."""

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]: ...


@dataclass(frozen=True)
class Thresholds:
    """The answer rule's thresholds (see :func:`may_name`); values come from ``actions/settings.py``."""

    search_min: float = 0.6
    nlu_min: float = 0.5
    ambiguity_gap: float = 0.05
    max_options: int = 3
    family_min: float = 0.5


@dataclass
class Plan:
    """What the bot will do with this turn."""

    kind: str  # answer | answer_all | choose | fallback | rephrase | invalid_choice
    aspect: str = "overview"
    procedures: list[Procedure] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    confidence: float | None = None
    reason: str = ""


def may_name(nlu_intent: str | None, nlu_confidence: float, search_confidence: float, t: Thresholds) -> bool:
    """THE rule: a procedure may be named only when the NLU and the search both are confident.

    The NLU must see a question about a procedure (not out_of_scope, greeting, …) with at
    least ``t.nlu_min`` confidence, and the search must find at least ``t.search_min`` of
    the question's identifying words in that procedure's names and aliases.
    """
    nlu_ok = nlu_intent not in NOT_A_QUESTION and nlu_confidence >= t.nlu_min
    return nlu_ok and search_confidence >= t.search_min


def parse_option(text: str, n_options: int) -> int | None:
    """1-based option when the WHOLE message is a choice ("số 2", "cái thứ hai", "2", "cái cuối").

    Ordinals inside ordinary words do not count ("cái ở đâu", "bà", "từ"), and typed
    diacritics are evidence: "bà" is not "ba", "tư" is four but "từ" is not.
    """
    norm = normalize_query(text).strip(" .!?,")
    accented = norm != fold_accents(norm)
    words = _ORDINAL_ACCENTED if accented else _ORDINAL_WORDS
    last = _LAST if accented else tuple(fold_accents(w) for w in _LAST)
    prefix = _CHOICE_PREFIX if accented else fold_accents(_CHOICE_PREFIX)
    suffix = _CHOICE_SUFFIX if accented else fold_accents(_CHOICE_SUFFIX)
    body = norm if accented else fold_accents(norm)
    alts = "|".join(sorted(map(re.escape, [*words, *last]), key=len, reverse=True))
    m = re.fullmatch(rf"{prefix}(\d{{1,2}}|{alts}){suffix}", body)
    if not m:
        return None
    token = m.group(1)
    if token in last:
        return n_options or None
    value = int(token) if token.isdigit() else words[token]
    return value if 1 <= value <= n_options else None


def looks_like_choice(text: str) -> bool:
    """A bare number or ordinal, whether or not it fits the options offered."""
    return parse_option(text, 99) is not None


def option_by_words(text: str, parsed: Parsed, options: list[Procedure]) -> int | None:
    """0-based option named by words only it has ("cái cấp lại", "cho người lớn", "cấp tỉnh").

    The words must appear in that option's official name and not in every other option's
    name, and cover at least half of the message's own words; anything less (or a tie) is
    not a choice.  Typed diacritics are compared as typed: "hộ chiếu" does not pick "hồ sơ".
    """
    fold = not parsed.accented
    content = set(parsed.rest.split())
    words = {w for w in syllables(text, fold=fold) if fold_accents(w) in content}
    if not words:
        return None
    names = [set(syllables(short_name(p.name), fold=fold)) for p in options]
    common = set.intersection(*names)
    scores = [len((words & name) - common) for name in names]
    best = max(scores)
    if best == 0 or scores.count(best) > 1 or best * 2 < len(words - common):
        return None
    return scores.index(best)


def core_bigrams(proc: Procedure) -> set[str]:
    """Official-name bigrams of non-qualifier syllables: what a family shares ("can cuoc", "ho chieu")."""
    syl = syllables(short_name(proc.name))
    return {f"{a} {b}" for a, b in zip(syl, syl[1:], strict=False) if a not in QUALIFIERS and b not in QUALIFIERS}


def family(anchor: list[Procedure], catalogue: list[Procedure]) -> list[Procedure]:
    """Procedures of the same field as, or sharing a core name bigram with, the anchors."""
    fields = {p.field for p in anchor}
    cores = set().union(*(core_bigrams(p) for p in anchor)) if anchor else set()
    return [p for p in catalogue if p.field in fields or core_bigrams(p) & cores]


# Function words: in a refinement they carry no evidence for one procedure over another.
WEAK = frozenset("do bi cho cua la va voi o tai khi neu vi nguoi toi minh ban da se duoc nay trong cac nhung co "
                 "khong chua muon phai truong hop".split())


def _coverage(words: set[str], proc: Procedure) -> float:
    """Share of ``words`` in the official name, or (discounted: aliases are looser) in one alias."""
    words = (words - WEAK) or words
    if not words:
        return 0.0
    name = len(words & set(syllables(proc.name))) / len(words)
    alias = max((len(words & set(syllables(a))) / len(words) for a in proc.aliases), default=0.0)
    return max(name, 0.6 * alias)


def only_qualifiers(parsed: Parsed) -> bool:
    """Qualifier words only, and enough of them to mean something ("bà" alone does not)."""
    tokens = parsed.rest.split()
    if not tokens or not all(t in QUALIFIERS or t.isdigit() for t in tokens):
        return False
    return len(tokens) >= 2 or tokens[0] in VARIANT_MARKERS


def variant_markers(text: str) -> set[str]:
    """Variant markers in a text (as typed: accented when it has diacritics), as syllables and bigrams."""
    norm = normalize_query(text)
    accented = norm != fold_accents(norm)
    syl = syllables(norm, fold=not accented)
    found = set(syl) | {f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)}
    return found & VARIANT_MARKERS if accented else found & _FOLDED_MARKERS


def _unmentioned_variants(name: str, query: str) -> int:
    """Variant markers of a procedure name that the question does not mention.

    Compared as typed: accented when the question has diacritics, folded when it has none.
    """
    said = variant_markers(query)
    marks = variant_markers(name)
    if fold_accents(query) == query.lower():
        marks = {fold_accents(m) for m in marks}
    return len(marks - said)


def _ordinariness(h: Hit, query: str, query_syl: set[str]) -> tuple[int, int]:
    """(variants the citizen did not mention, name syllables beyond the question): lower is more ordinary."""
    name = short_name(h.name)
    return _unmentioned_variants(name, query), len(set(syllables(name)) - query_syl)


def by_ordinary_case(options: list[Hit], query: str) -> list[Hit]:
    """Close candidates, the most ordinary reading of the question first (stable otherwise).

    "làm thẻ căn cước" means the ordinary card, not "cấp LẠI"; "làm hộ chiếu" is not
    "trình báo MẤT hộ chiếu"; "đăng ký kết hôn" is not "… có yếu tố nước ngoài".
    """
    qsyl = set(syllables(query))
    keyed = [(_ordinariness(h, query, qsyl), i, h) for i, h in enumerate(options)]
    return [h for _, _, h in sorted(keyed, key=lambda x: (x[0], x[1]))]


def ordinary_case(options: list[Hit], query: str) -> Hit | None:
    """The only close candidate adding no variant, when the question mentions none itself.

    A question that mentions a variant ("mất giấy khai sinh") leaves the case open: it
    may mean re-registration or an extract, so the citizen is asked.
    """
    if variant_markers(query):
        return None
    plain = [h for h in options if not variant_markers(short_name(h.name))]
    return plain[0] if len(plain) == 1 else None


def resolve(
    text: str,
    intent: str | None,
    intent_confidence: float,
    state: ConversationState,
    searcher: Searcher,
    catalogue: dict[str, Procedure],
    t: Thresholds,
) -> Plan:
    """The plan for one user turn (see the module docstring for the order of the checks)."""
    if is_gibberish(text):
        return Plan("rephrase", reason="not Vietnamese text")
    parsed = parse(text)
    # "ask_procedure" is the NLU's default for a message without an aspect: it must not
    # override the aspect a refinement carries over ("bị mất" after "mất bao lâu?")
    aspect = parsed.aspect or (INTENT_ASPECT.get(intent or "") if intent != "ask_procedure" else None)
    current = catalogue.get(state.current or "")
    options = [catalogue[c] for c in (state.choice.codes if state.choice else []) if c in catalogue]

    # 2. a pending choice answered by number, ordinal or the option's own words
    if options:
        n = parse_option(text, len(options))
        if n is not None:
            return Plan("answer", state.choice.aspect if state.choice else "overview", [options[n - 1]],
                        reason="choice by number")
        if looks_like_choice(text):
            return Plan("invalid_choice", state.choice.aspect if state.choice else "overview", options)
        if parsed.aspect is None:
            i = option_by_words(text, parsed, options)
            if i is not None:
                return Plan("answer", state.choice.aspect if state.choice else "overview", [options[i]],
                            reason="choice by words")
    elif looks_like_choice(text):
        return Plan("invalid_choice", aspect or "overview")

    # 3. only an aspect: the current procedure, or the pending choice again
    if not parsed.rest and (aspect or parsed.aspect):
        aspect = aspect or "overview"
        if options:
            return Plan("answer_all" if len(options) > 1 else "answer", aspect, options, reason="aspect of pending choice")
        if current is not None:
            return Plan("answer", aspect, [current], reason="follow-up on current")
        return Plan("fallback", aspect, reason="aspect without a procedure")

    # 4. qualifiers only: narrow within the current family first
    anchors = options or ([current] if current else [])
    if anchors and only_qualifiers(parsed):
        plan = _within_family(parsed, anchors, list(catalogue.values()), aspect or state.aspect or "overview", t)
        if plan is not None:
            return plan

    # 5. the whole catalogue
    aspect = aspect or INTENT_ASPECT.get(intent or "") or "overview"
    return _search(parsed, text, intent, intent_confidence, aspect, anchors, searcher, catalogue, t)


def _within_family(parsed: Parsed, anchors: list[Procedure], catalogue: list[Procedure], aspect: str,
                   t: Thresholds) -> Plan | None:
    words = set(parsed.rest.split())
    members = family(anchors, catalogue)
    anchor_cores = set().union(*(core_bigrams(p) for p in anchors))
    scored = []
    for proc in members:
        cov = _coverage(words, proc)
        # a member that shares the anchors' core words is closer kin ("căn cước" for a card question)
        kin = 0.25 if core_bigrams(proc) & anchor_cores else 0.0
        scored.append((cov + kin, cov, proc))
    scored.sort(key=lambda x: -x[0])
    if not scored or scored[0][1] < t.family_min:
        return None
    best = scored[0][0]
    close = [p for s, cov, p in scored if best - s <= t.ambiguity_gap and cov >= t.family_min][: t.max_options]
    if len(close) > 1:
        return Plan("choose", aspect, close, confidence=scored[0][1], reason="refinement within family is ambiguous")
    return Plan("answer", aspect, [scored[0][2]], confidence=scored[0][1], reason="refinement within family")


def name_confidence(query: str, proc: Procedure, as_typed: bool) -> float:
    """Share of the question's identifying words found in the procedure's names and aliases.

    ``as_typed``: compare the words with their diacritics.  The search's own confidence
    compares accent-folded words, which is right for text typed without diacritics; when
    the citizen typed them, "ví" (wallet) must not count as "vì".
    """
    expanded = lexicon.expand(query)
    ident = set(query_text(expanded).split())
    if as_typed:
        ident = {w for w in syllables(expanded, fold=False) if fold_accents(w) in ident}
    if not ident:
        return 0.0
    fold = not as_typed
    names = set(syllables(proc.name, fold=fold)).union(*(syllables(a, fold=fold) for a in proc.aliases))
    return len(ident & names) / len(ident)


def _close_candidates(hits: list[Hit], text: str, query: str, t: Thresholds) -> list[Hit]:
    """Hits after the top one that leave the question open; [] when the search is decisive.

    Open: a hit within ``ambiguity_gap`` of the top's fused score; or as good a match of the
    question's words within 15 % (25 % to list as an option); or, in an either-or question
    ("cấp lại hay cấp đổi"), kin of the top matching part of it; or, when the citizen
    mentions a variant ("mất giấy khai sinh") but the top is the plain procedure, the
    variants close behind it.
    """
    top = hits[0]
    rest = [h for h in hits[1:] if h.confidence >= t.search_min]
    gap = lambda h: (top.score - h.score) / top.score if top.score else 1.0  # noqa: E731
    same_words = lambda h: h.confidence >= top.confidence - 0.01  # noqa: E731
    either_or = bool(_EITHER_OR.search(fold_accents(text)))
    kin = family([top.procedure], [h.procedure for h in rest]) if either_or else []
    variant_asked = bool(variant_markers(query)) and not variant_markers(short_name(top.name))
    opens = [
        h for h in rest
        if gap(h) <= t.ambiguity_gap or (same_words(h) and gap(h) <= 0.15)
        or (either_or and h.procedure in kin and h.confidence >= top.confidence - 0.25)
        or (variant_asked and variant_markers(short_name(h.name)) and h.confidence >= top.confidence - 0.2
            and gap(h) <= 0.35)
    ]
    if not opens:
        return []
    listed = [h for h in rest if h not in opens and same_words(h) and gap(h) <= 0.25]
    return [h for h in rest if h in opens or h in listed]


def _search(parsed: Parsed, text: str, intent: str | None, intent_confidence: float, aspect: str,
            anchors: list[Procedure], searcher: Searcher, catalogue: dict[str, Procedure], t: Thresholds) -> Plan:
    query = parsed.query or text
    hits = [h for h in searcher.search(query, k=5) if h.code in catalogue]
    if parsed.accented:  # diacritics are evidence: confidence as typed, and rank by it first
        for h in hits:
            h.confidence = min(h.confidence, name_confidence(query, h.procedure, as_typed=True))
        hits.sort(key=lambda h: -h.confidence)
    if not hits or not may_name(intent, intent_confidence, hits[0].confidence, t):
        return Plan("fallback", aspect, hits=hits[:3], confidence=hits[0].confidence if hits else None,
                    reason="NLU and search not both confident")
    top = hits[0]
    # the conversation's own procedure, when the message fits it as well as the top hit
    # ("còn lệ phí hộ chiếu thì sao" while talking about the passport)
    for proc in anchors:
        fit = name_confidence(query, proc, as_typed=parsed.accented)
        if fit >= top.confidence - 0.01 and fit >= t.search_min:
            return Plan("answer", aspect, [proc], hits=hits, confidence=fit, reason="fits the current procedure")
    close = _close_candidates(hits, text, query, t)
    if close:
        options = [top, *close]
        anchor_codes = {p.code for p in anchors}
        inside = [h for h in options if h.code in anchor_codes]
        if len(inside) == 1:  # the conversation already settled which one of these it is about
            return Plan("answer", aspect, [inside[0].procedure], hits=options, confidence=inside[0].confidence,
                        reason="ambiguous, context decides")
        plain = ordinary_case(options, query)
        if plain is not None:
            return Plan("answer", aspect, [plain.procedure], hits=options, confidence=plain.confidence,
                        reason="ordinary case of close candidates")
        options = by_ordinary_case(options, query)[: t.max_options]
        return Plan("choose", aspect, [h.procedure for h in options], hits=options, confidence=top.confidence,
                    reason="close candidates")
    return Plan("answer", aspect, [top.procedure], hits=[top], confidence=top.confidence, reason="search")
