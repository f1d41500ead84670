"""Resolve one user turn against the conversation state: answer, ask which one, or admit ignorance.

Kept apart from rasa-sdk so every decision can be tested without a tracker.
The order of the checks is the policy, read top to bottom:

1. not Vietnamese (keyboard noise, emoji, another language) → ask to rephrase;
2. a pending choice answered by number, ordinal or words of one option → that option;
3. only an aspect ("còn lệ phí thì sao?") → the current procedure, or, while a choice is
   pending, the same choice again for the new aspect (one answer when the options agree);
   also when the other words name nothing else ("lấy được", "ở công an phường hay ở đâu");
4. only qualifiers ("bị mất", "cho con dưới 14 tuổi", "vợ tôi là người nước ngoài") →
   narrow within the current family of procedures;
5. otherwise search the whole catalogue, and name a procedure only when the NLU and the
   search are both confident (:func:`may_name`, thresholds in ``actions/settings.py``).
   Within the search: an alias said word for word names its procedure ("làm sổ đỏ");
   a question without a verb names a family and is asked back ("sổ đỏ cần giấy tờ gì");
   kin of the current procedure needs only ``family_min`` of the words; an aspect asked
   with words that name nothing surely stays with the current procedure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from actions.aspects import Parsed, parse
from actions.formatting import INTENT_ASPECT
from actions.state import ConversationState
from knowledge_base import lexicon
from knowledge_base.features import alias_head, name_words_said, query_text, short_name
from knowledge_base.retrieval import Hit
from knowledge_base.schema import Procedure
from vntext import fold_accents, is_gibberish, nfc, normalize_query, syllables
from vntext.numbers import ORDINAL_WORDS, WORD_VALUES

NOT_A_QUESTION = {"out_of_scope", "nlu_fallback", "greet", "goodbye", "thank", "bot_challenge"}

# Qualifier syllables: they refine a procedure but name none by themselves.  Written with
# diacritics, for the catalogue's names (always accented): folded, "lái" (drive) is "lại" (again),
# "cư" (reside) "cũ" (old) and "sổ" "số", and "giấy phép LÁI xe" or "CƯ trú" would lose the
# syllables that make them a family (``core_bigrams``).  ``QUALIFIERS``: the same, folded, for
# what citizens type.
QUALIFIERS_ACCENTED = frozenset(
    """cấp lại đổi mới đăng ký làm xin gia hạn do bị mất hỏng hư thay hết cho người con dưới trên tuổi lần
    đầu tại của và với vợ chồng nước ngoài tỉnh xã huyện thành phố trẻ em lớn nhỏ trường hợp khi nếu
    là đã sẽ được này ở trong việt nam tôi mình bạn nhà bé gái trai ông bà bố mẹ cũ cháu các những rách
    cháy sai sót nhiều tháng năm ngày từ đủ trở lên không có chưa muốn phải thẻ giấy sổ cái nó cuốn quyển""".split()
)
QUALIFIERS = frozenset(fold_accents(w) for w in QUALIFIERS_ACCENTED)
# The generic nouns among them: "bao lâu thì có GIẤY", "làm CUỐN mới" speak of the current paper.
GENERIC_NOUNS = frozenset("the giay so cai no cuon quyen".split())
# ("thẻ", "giấy", "sổ", "cái", "nó", "cuốn", "cũ": in "thẻ cũ bị mất" they point at the current
# procedure's own paper, so they refine it rather than name another one.)

# Words that mark a special-case variant of a procedure ("cấp LẠI", "trình báo MẤT", "DƯỚI 14 tuổi",
# "có yếu tố NƯỚC NGOÀI"). Citizens who do not say them mean the ordinary case.
# Accented on purpose: folded, "lại" (again) would collide with "lái" (drive).
VARIANT_MARKERS = frozenset(
    "lại đổi mất hỏng hư dưới ngoài bổ_sung điều_chỉnh gia_hạn thay_đổi hủy xóa trích_lục cải_chính đã_có "
    "kết_hợp quốc_tế sửa".split()
)
_FOLDED_MARKERS = frozenset(fold_accents(m) for m in VARIANT_MARKERS)
# Markers that tell what happened rather than what to do: a lost paper may be re-registered
# or copied from the register, so they leave the case open.
SITUATIONS = frozenset({"mất", "hỏng", "hư", "mat", "hong", "hu"})

# Verbs that ask for the procedure itself ("LÀM sổ đỏ", "XIN giấy phép", "ĐĂNG KÝ tạm trú"): with
# one, close variants resolve to the ordinary case; without ("sổ đỏ cần giấy tờ gì", "thủ tục thẻ căn
# cước mất bao lâu") the question names a family, not one of its procedures, so the citizen is asked.
ACTION_VERBS = re.compile(r"(?<!\w)(lam|xin|cap|dang ky|dk|di lam|muon lam|nop)(?!\w)")

_EITHER_OR = re.compile(r"(?<!\w)(hay|hoac)(?!\w)")
_THAT_ONE = re.compile(r"(?<!\w)(?:đó|do|này|nay|ấy|ay)(?=\s*(?:bao nhiêu|bao nhieu|bn|hết|het|mất|mat|thì|thi|$))")
_NEW_ONE = re.compile(r"(?<!\w)(?:lam|cap|xin) \w+(?: \w+)? moi(?!\w)")
# "hộ kinh doanh NHÀ TÔI", "công ty CỦA MÌNH": the citizen already has it, so establishing one
# ("thành lập") is not what is asked, unless the words ask for it ("đăng ký", "mở", "mới").
_OWNED = re.compile(r"(?<!\w)(?:nha|cua|cua gia dinh|gia dinh) (?:toi|minh|em|chung toi)(?!\w)")
_ESTABLISH_ASKED = re.compile(r"(?<!\w)(?:dang ky|dk|thanh lap|lap|mo|moi)(?!\w)")
_ESTABLISH = re.compile(r"(?<!\w)thanh lap(?!\w)")

_ORDINAL_ACCENTED = dict(ORDINAL_WORDS)  # one table of number words: vntext.numbers
_ORDINAL_WORDS = {fold_accents(w): n for w, n in ORDINAL_WORDS.items()}
_CHOICE_PREFIX = r"(?:(?:tôi|mình|em|cho|chọn|lấy|là|vâng|dạ|ừ|thì)\s+)*(?:(?:cái|số|thứ|phương án|lựa chọn|câu|mục|ý)\s*)*"
_CHOICE_SUFFIX = r"(?:\s+(?:ạ|nhé|nha|đi|thôi|luôn|đó|ấy|á))*"
_LAST = ("cuối", "cuối cùng", "sau cùng")


@lru_cache(maxsize=200_000)
def _syl(text: str, fold: bool = True) -> tuple[str, ...]:
    """Syllables of a catalogue string (names, aliases), computed once: a turn compares many."""
    return tuple(syllables(text, fold=fold))


class Searcher(Protocol):
    """What the resolver needs from the knowledge base (``knowledge_base.retrieval.Searcher``)."""

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]: ...

    def unknown_words(self, query: str) -> set[str]: ...


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
    forget: bool = False  # a fallback that leaves no current procedure behind
    detail: bool = False  # an answer to a detail the catalogue has no fact for: the nearest facts, said so


# Words only a request for a person uses: while a choice is pending, a message without them
# ("cho người lớn") answers the choice, whatever the NLU heard in "người"
_PERSON_WORDS = re.compile(
    r"(?<!\w)(nhân viên|nhan vien|tổng đài|tong dai|tư vấn viên|tu van vien|người thật|nguoi that|"
    r"cán bộ|can bo|gặp|gap|nói chuyện|noi chuyen|chuyển máy|chuyen may|hotline|admin|ad)(?!\w)")


# "số tổng đài là bao nhiêu", "hotline bn v": the number to call, whatever aspect the words look like
# ("tổng đài VIÊN" is a person: the NLU's request for a person, which the hand-off answers)
_HOTLINE_WORDS = re.compile(r"(?<!\w)(tổng đài|tong dai|hotline|đường dây nóng|duong day nong)(?!\w)(?!\s+(?:viên|vien))")


def asks_for_hotline(text: str) -> bool:
    """Whether the message is about the hotline itself (then the hand-off answers it)."""
    return bool(_HOTLINE_WORDS.search(normalize_query(text)))


def asks_for_person(text: str) -> bool:
    """Whether the message names a person to talk to (not just any "người")."""
    return bool(_PERSON_WORDS.search(normalize_query(text)))


# how sure the NLU must be of an aspect intent for it to stand for an aspect phrase
ASPECT_INTENT_MIN = 0.9
# below this, the NLU's "greeting / goodbye / out of scope" does not overrule an aspect phrase
UNSURE_NOT_A_QUESTION = 0.6


def asked_aspect(parsed: Parsed, intent: str | None, intent_confidence: float) -> str | None:
    """The aspect the citizen asked: an aspect phrase, or the NLU's sure reading of one
    ("lấy ngay trong ngày đc ko hay phải chờ", "có phải làm ở phường … không")."""
    if parsed.aspect:
        return parsed.aspect
    if intent in INTENT_ASPECT and intent != "ask_procedure" and intent_confidence >= ASPECT_INTENT_MIN:
        return INTENT_ASPECT[intent]
    return None


def nlu_reading(intent: str | None, confidence: float, ranking: list[dict]) -> tuple[str | None, float]:
    """The NLU's reading for the answer rule: below the fallback threshold, a question about a procedure.

    Rasa's FallbackClassifier puts ``nlu_fallback`` first when no single intent is sure, yet
    "xin giấy xác nhận cư trú … thì xin ở đâu" splits 0.46 / 0.46 between ``ask_procedure`` and
    ``ask_where``: the NLU is sure it is a question about a procedure, only not which aspect.  Then
    the reading is ``ask_procedure`` with the summed confidence of the question intents (the aspect
    comes from the words), so the answer rule can still apply; otherwise the NLU's own reading.
    """
    if intent != "nlu_fallback":
        return intent, confidence
    mass = sum(float(r.get("confidence") or 0.0) for r in ranking if r.get("name") in INTENT_ASPECT)
    not_question = max((float(r.get("confidence") or 0.0) for r in ranking
                        if r.get("name") in NOT_A_QUESTION and r.get("name") != "nlu_fallback"), default=0.0)
    if mass > not_question:
        return "ask_procedure", mass
    return intent, confidence


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
    names = [set(_syl(short_name(p.name), fold)) for p in options]
    common = set.intersection(*names)
    scores = [len((words & name) - common) for name in names]
    best = max(scores)
    named = words & common
    if best == 0 and named and len(words - named) <= 1:
        # "cái cộng tác viên" between "… là cộng tác viên" and "… KHÔNG PHẢI là cộng tác viên"
        negated = _negates(tuple(syllables(text, fold=fold)), named)
        same = [i for i, p in enumerate(options) if _negates(_syl(short_name(p.name), fold), named) == negated]
        return same[0] if len(same) == 1 else None
    if best == 0 or scores.count(best) > 1 or best * 2 < len(words - common):
        return None
    return scores.index(best)


def _negates(name: tuple[str, ...], words: set[str]) -> bool:
    """Whether the name says "không"/"chưa" within three syllables before the first of ``words``."""
    first = next((i for i, w in enumerate(name) if w in words), None)
    return first is not None and any(fold_accents(w) in ("khong", "chua") for w in name[max(0, first - 3):first])


# Administrative boilerplate that names of unrelated fields share ("Cấp đổi Giấy CHỨNG NHẬN quyền sử dụng
# đất", "Cấp lại CHỨNG NHẬN đăng ký xe"): kinship only within one field.
BOILERPLATE_BIGRAMS = frozenset({"chung nhan", "xac nhan", "thong tin", "ca nhan", "giai quyet", "cong dan",
                                 "thuc hien", "co quan", "tham quyen"})


def core_bigrams(proc: Procedure) -> set[str]:
    """Official-name bigrams of non-qualifier syllables: what a family shares ("can cuoc", "ho chieu").

    Returned folded; the qualifiers are told apart with the name's diacritics."""
    syl = _syl(short_name(proc.name), False)
    return {f"{fold_accents(a)} {fold_accents(b)}" for a, b in zip(syl, syl[1:], strict=False)
            if a not in QUALIFIERS_ACCENTED and b not in QUALIFIERS_ACCENTED}


def name_syllables(proc: Procedure, fold: bool) -> set[str]:
    """Syllables of a procedure's official name and aliases."""
    return set(_syl(proc.name, fold)).union(*(_syl(a, fold) for a in proc.aliases))


def names_core(query: str, proc: Procedure, accented: bool) -> bool:
    """Whether the question says a word of what the procedure is about: its official name's words
    besides qualifiers, generic nouns and boilerplate, or a colloquial term for it ("sổ đỏ"), compared
    with diacritics when the citizen typed them ("hộ chiếu" is no "hồ sơ")."""
    return bool(core_words(proc, accented) & set(_syl(lexicon.expand(query), not accented)))


def core_words(proc: Procedure, accented: bool) -> set[str]:
    """The official name's syllables that say what the procedure is about (see ``names_core``)."""
    name = _syl(short_name(proc.name), not accented)
    folded = [fold_accents(w) for w in name]
    # the two words of a boilerplate pair ("giấy CHỨNG NHẬN") are no core; "CHỨNG thực" is
    boiler = {i + d for i in range(len(name) - 1) if f"{folded[i]} {folded[i + 1]}" in BOILERPLATE_BIGRAMS for d in (0, 1)}
    return {w for i, w in enumerate(name) if i not in boiler and folded[i] not in _NOT_CORE}


def same_object(query: str, named: Procedure, other: Procedure, accented: bool) -> bool:
    """Whether ``other`` is about what the question names of ``named``: its own core is said, or its
    name or an alias holds the said core words of ``named`` ("mất giấy kết hôn" → the copy extract's
    alias says "kết hôn"; the driving licence's "làm lại … bị mất" says nothing of "căn cước")."""
    if names_core(query, other, accented):
        return True
    said = core_words(named, accented) & set(_syl(lexicon.expand(query), not accented))
    return bool(said & name_syllables(other, not accented))


def related(proc: Procedure, anchors: list[Procedure]) -> bool:
    """Whether the procedure shares a core name bigram with an anchor: a boilerplate one only in its field."""
    shared = core_bigrams(proc) & set().union(*(core_bigrams(a) for a in anchors)) if anchors else set()
    return bool(shared - BOILERPLATE_BIGRAMS) or (bool(shared) and proc.field in {a.field for a in anchors})


def family(anchor: list[Procedure], catalogue: list[Procedure]) -> list[Procedure]:
    """Procedures of the same field as, or sharing a core name bigram with, the anchors."""
    fields = {p.field for p in anchor}
    return [p for p in catalogue if p.field in fields or related(p, anchor)]


# Function words: in a refinement they carry no evidence for one procedure over another.
WEAK = frozenset("do bi cho cua la va voi o tai khi neu vi nguoi toi minh ban da se duoc nay trong cac nhung co "
                 "khong chua muon phai truong hop cu".split())
# words of a name that say nothing of what the procedure is about (see names_core)
_NOT_CORE = QUALIFIERS | GENERIC_NOUNS | WEAK | _FOLDED_MARKERS


def _coverage(words: set[str], proc: Procedure, accented: bool = False) -> float:
    """Share of ``words`` in the official name, or (discounted: aliases are looser) in one alias.

    ``accented``: the words keep the diacritics the citizen typed ("sổ" is not "sở").
    """
    words = {w for w in words if fold_accents(w) not in WEAK} or words
    if not words:
        return 0.0
    fold = not accented
    name = len(words & set(_syl(proc.name, fold))) / len(words)
    alias = max((len(words & set(_syl(a, fold))) / len(words) for a in proc.aliases), default=0.0)
    return max(name, 0.6 * alias)


# Number words and units: "bao nhiêu MỘT TRANG", "mấy BẢN" count, they name nothing.
COUNTS = frozenset("mot hai ba bon nam sau bay tam chin muoi tram nghin trieu trang ban to lan chiec".split())

# Where things are done: in a follow-up ("làm ở công an phường hay ở đâu") they name no procedure.
_PLACES = re.compile(r"(?<!\w)(cong an|uy ban|ubnd|phuong|quan|xa|huyen|tinh|bo phan mot cua|mot cua|trung tam)(?!\w)")
# "phường NƠI MÌNH ĐĂNG KÝ THƯỜNG TRÚ", "chỗ đang ở": where the citizen lives, not a procedure's name
_WHERE_ONE_LIVES = re.compile(r"(?<!\w)(?:noi|cho|o) (?:(?:minh|toi|em|nha minh|nha toi) )?(?:(?:dang ky|dk|dang) )?"
                              r"(?:thuong tru|tam tru|cu tru|o|song)(?!\w)")


def record_words(proc: Procedure) -> set[str]:
    """Folded syllables of where a procedure is done (levels, agency, place of submission) and of
    what the citizen gets from it ("bao lâu thì có giấy chứng nhận" while on a company registration).

    Not its names (step 5 compares those) nor its documents: a card's documents mention
    "hộ chiếu", which is another procedure.
    """
    parts = [*proc.levels, proc.agency, proc.where_to_submit or "", proc.result or ""]
    return set(_syl(" ".join(parts)))


_CONNECTIVES = frozenset({"hay", "hoac"})


def names_nothing_else(parsed: Parsed, anchors: list[Procedure]) -> bool:
    """The words besides the aspect do not name another procedure.

    Either at most one word that is not a qualifier ("lấy được", "duyệt", "theo"): one word is
    too little to switch procedures on; or every such word is in the record of the procedure(s)
    being discussed ("công an phường", "xã hay tỉnh", "ủy ban").
    """
    rest = _WHERE_ONE_LIVES.sub(" ", parsed.rest)
    if lexicon.matches(rest):  # "bằng lái", "sổ đỏ": a colloquial name is a name
        return False
    rest = _PLACES.sub(" ", f" {rest} ")
    content = [w for w in rest.split() if w not in QUALIFIERS and w not in COUNTS and w not in _CONNECTIVES
               and not w.isdigit()]
    if len(content) <= 1:
        return True
    return any(set(content) <= record_words(p) for p in anchors)


def only_qualifiers(parsed: Parsed) -> bool:
    """Qualifier words only, and enough of them to mean something ("bà" alone does not)."""
    tokens = [t for t in parsed.rest.split() if t not in _CONNECTIVES]  # "xã hay tỉnh"
    if not tokens or not all(t in QUALIFIERS or t.isdigit() for t in tokens):
        return False
    return len(tokens) >= 2 or tokens[0] in VARIANT_MARKERS


_RETURN_TO = re.compile(r"(?<!\w)(?:quay|trở|tro) (?:lại|lai|về|ve)(?!\w)")
# "ông nội mình mất tuần trước": a person who died, not a lost paper ("bà bị mất giấy", "mẹ làm mất sổ",
# "bố mất thẻ" are losses)
_DIED = re.compile(
    r"(?<!\w)((?:ông|ong|bà|ba|bố|bo|mẹ|me|má|cha|chồng|chong|vợ|vo|cụ)(?:\s+\w+){0,2}?\s+"
    r"(?:đã\s+|da\s+|vừa\s+|vua\s+|mới\s+|moi\s+)?)(?:mất|mat)(?!\w)"
    r"(?!\s+(?:giấy|giay|sổ|so|thẻ|the|bằng|bang|hộ|ho|căn|can|cmnd|cccd|bản|ban|hồ|cà|ca|xe|cái|cai))")
_LOSS_VERB = re.compile(r"(?<!\w)(?:bị|bi|làm|lam|đánh|danh)\s*$")


@lru_cache(maxsize=100_000)
def variant_markers(text: str) -> frozenset[str]:
    """Variant markers in a text (as typed: accented when it has diacritics), as syllables and bigrams.

    Without diacritics "lai xe" is "lái xe" (to drive), never "lại" (again); "quay lại đăng ký
    thường trú" returns to an earlier topic and asks for no re-registration.
    """
    norm = _RETURN_TO.sub(" ", normalize_query(text))
    norm = _DIED.sub(lambda m: m.group(0) if _LOSS_VERB.search(m.group(1)) else f"{m.group(1)}qua đời", norm)
    accented = norm != fold_accents(norm)
    if not accented:
        norm = re.sub(r"(?<!\w)lai xe(?!\w)", "xe", norm)
    syl = syllables(norm, fold=not accented)
    found = set(syl) | {f"{a}_{b}" for a, b in zip(syl, syl[1:], strict=False)}
    return frozenset(found & VARIANT_MARKERS if accented else found & _FOLDED_MARKERS)


def _unmentioned_variants(name: str, query: str) -> int:
    """Variant markers of a procedure name that the question does not mention.

    Compared as typed: accented when the question has diacritics, folded when it has none.
    """
    said = variant_markers(query)
    marks = variant_markers(name)
    if fold_accents(query) == query.lower():
        marks = {fold_accents(m) for m in marks}
    return len(marks - said)


def _ordinariness_of(name: str, query: str, query_syl: set[str]) -> tuple[int, int]:
    """(variants the citizen did not mention, name syllables beyond the question): lower is more ordinary."""
    return _unmentioned_variants(name, query), len(set(_syl(name)) - query_syl)


def _ordinariness(h: Hit, query: str, query_syl: set[str]) -> tuple[int, int]:
    return _ordinariness_of(short_name(h.name), query, query_syl)


def by_ordinary_case(options: list[Hit], query: str) -> list[Hit]:
    """Close candidates, the most ordinary reading of the question first (stable otherwise).

    "làm thẻ căn cước" means the ordinary card, not "cấp LẠI"; "làm hộ chiếu" is not
    "trình báo MẤT hộ chiếu"; "đăng ký kết hôn" is not "… có yếu tố nước ngoài".
    """
    qsyl = set(syllables(query))
    keyed = [(_ordinariness(h, query, qsyl), i, h) for i, h in enumerate(options)]
    return [h for _, _, h in sorted(keyed, key=lambda x: (x[0], x[1]))]


# how far behind the best fit the procedure being discussed (or the ordinary case) may be to be chosen
CONTEXT_DECIDES_GAP = 0.1


def ordinary_case(options: list[Hit], query: str, text: str) -> Hit | None:
    """The only close candidate adding no variant, when the question asks to do it and mentions none.

    A question that mentions a variant ("mất giấy khai sinh") leaves the case open: it
    may mean re-registration or an extract, so the citizen is asked.  So does one without
    an action verb ("sổ đỏ cần giấy tờ gì"): it names the family, not the ordinary case.
    """
    if variant_markers(query) or not ACTION_VERBS.search(fold_accents(normalize_query(text))):
        return None
    plain = [h for h in options if not variant_markers(short_name(h.name))]
    # not when the words fit a variant clearly better ("xin BẢN SAO giấy khai sinh")
    best = max(h.confidence for h in options)
    return plain[0] if len(plain) == 1 and plain[0].confidence >= best - CONTEXT_DECIDES_GAP else None


# A correction names what is meant and what is not: "bị mất CHỨ KHÔNG PHẢI hết hạn", "KHÔNG PHẢI đổi MÀ
# LÀ cấp lại".  The denied part must not be searched for ("hết hạn" would find the renewal).
_DENIED_TAIL = re.compile(r"[\s,]*(?<!\w)(?:chứ|chu)\s+(?:không|khong|ko|k|hông|hong|chẳng|chang)\s+(?:phải|phai)(?!\w).*$",
                          re.IGNORECASE | re.DOTALL)
_DENIED_HEAD = re.compile(r"(?<!\w)(?:không|khong|ko|k)\s+(?:phải|phai)(?!\w).*?(?<!\w)(?:mà|ma)\s+(?:là|la)(?!\w)",
                          re.IGNORECASE | re.DOTALL)


def without_denied_part(text: str) -> str:
    """The message without the alternative the citizen denies (see ``_DENIED_TAIL``)."""
    kept = _DENIED_HEAD.sub(" ", _DENIED_TAIL.sub("", text))
    return kept if kept.strip() else text


def denied_variants(text: str) -> frozenset[str]:
    """The variant markers only the denied part says ("bị mất sổ đỏ chứ không phải ĐỔI": "doi"), folded."""
    kept = without_denied_part(text)
    if kept == text:
        return frozenset()
    said = {fold_accents(m) for m in variant_markers(text)}
    return frozenset(said - {fold_accents(m) for m in variant_markers(kept)})


def carries_variant(proc: Procedure, variants: frozenset[str]) -> bool:
    """Whether the procedure's official name carries one of these (folded) variant markers."""
    return bool(variants and variants & {fold_accents(m) for m in variant_markers(short_name(proc.name))})


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
    denied = denied_variants(text)
    text = without_denied_part(text)
    parsed = parse(text)
    # "ask_procedure" is the NLU's default for a message without an aspect: it must not
    # override the aspect a refinement carries over ("bị mất" after "mất bao lâu?")
    aspect = parsed.aspect or (INTENT_ASPECT.get(intent or "") if intent != "ask_procedure" else None)
    current = catalogue.get(state.current or "")
    options = [catalogue[c] for c in (state.choice.codes if state.choice else []) if c in catalogue]
    if current is not None and carries_variant(current, denied):
        current = None  # "à nhầm, … chứ không phải ĐỔI" while on "Cấp đổi …": not what is discussed
    options = [p for p in options if not carries_variant(p, denied)]

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
    rest_words = set(parsed.rest.split())
    generic_only = bool(rest_words & GENERIC_NOUNS) and rest_words <= GENERIC_NOUNS | {"moi", "cu"}  # "có sổ mới"
    if (not parsed.rest or generic_only) and (aspect or parsed.aspect):
        aspect = aspect or "overview"
        if options:
            return Plan("answer_all" if len(options) > 1 else "answer", aspect, options, reason="aspect of pending choice")
        if current is not None:
            return Plan("answer", aspect, [current], reason="follow-up on current")
        return Plan("fallback", aspect, reason="aspect without a procedure")

    anchors = options or ([current] if current else [])
    # 3b. an age the discussed procedure excludes: its kin for that age
    plan = _by_age(text, anchors, catalogue, aspect or state.aspect or "overview")
    if plan is not None:
        return plan

    # 3c. an aspect with words around it that name no other procedure ("lấy được", "công an phường
    #     hay ở đâu", "theo nghị định nào"): still about the current procedure or the pending choice
    sure_aspect = asked_aspect(parsed, intent, intent_confidence)
    # an aspect phrase outweighs the NLU's unsure "not a question" ("lấy liền dc k hay phải hẹn": goodbye 0.48)
    questioning = intent not in NOT_A_QUESTION or (parsed.aspect is not None and intent_confidence < UNSURE_NOT_A_QUESTION)
    if sure_aspect and anchors and parsed.rest and not only_qualifiers(parsed) \
            and not about_something_else(text, sure_aspect, searcher) \
            and questioning and names_nothing_else(parsed, anchors):
        if options:
            i = option_by_words(text, parsed, options)
            if i is not None:
                return Plan("answer", sure_aspect, [options[i]], reason="choice by words, new aspect")
            return Plan("answer_all" if len(options) > 1 else "answer", sure_aspect, options,
                        reason="aspect of pending choice, with other words")
        return Plan("answer", sure_aspect, [current], reason="follow-up on current, with other words")

    # 4. qualifiers only: narrow within the current family first; with a choice pending, the option
    #    the qualifiers name ("bao lâu thì được CẤP LẠI" between "Cấp lại …" and "Cấp đổi …")
    if anchors and only_qualifiers(parsed):
        i = option_by_words(text, parsed, options) if options else None
        if i is not None:
            return Plan("answer", aspect or (state.choice.aspect if state.choice else "overview"), [options[i]],
                        reason="choice by words, with an aspect")
        plan = _within_family(parsed, text, anchors, list(catalogue.values()), aspect or state.aspect or "overview", t)
        if plan is not None:
            return plan
        if aspect and intent not in NOT_A_QUESTION:
            # "nộp ở xã hay ở tỉnh": levels that narrow nothing in this family, asked about it
            if len(anchors) > 1:
                return Plan("answer_all", aspect, anchors, reason="aspect of pending choice, with qualifiers")
            return Plan("answer", aspect, anchors, reason="follow-up on current, with qualifiers")

    # 4b. nothing being discussed and nothing but qualifiers besides the aspect ("cho bé làm có mất
    #     tiền không"): no word names a procedure, so none may be named
    if not anchors and sure_aspect and parsed.rest and intent not in NOT_A_QUESTION \
            and all(w in QUALIFIERS for w in parsed.rest.split()) and not lexicon.matches(parsed.rest):
        return Plan("fallback", sure_aspect, reason="aspect without a procedure, only qualifiers")

    # 5. the whole catalogue
    explicit = aspect
    aspect = aspect or INTENT_ASPECT.get(intent or "") or "overview"
    plan = _search(parsed, text, intent, intent_confidence, aspect, anchors, searcher, catalogue, t, denied)
    if explicit is None and state.aspect and plan.kind == "answer" and not plan.detail and (
            plan.procedures[0] in anchors or kin_of(anchors, plan.procedures)):
        # "làm cái giấy xác nhận khuyết tật trước", "bố cháu là người Hàn Quốc": a refinement
        # keeps the aspect asked before
        plan.aspect = state.aspect
    return plan


def _within_family(parsed: Parsed, text: str, anchors: list[Procedure], catalogue: list[Procedure], aspect: str,
                   t: Thresholds) -> Plan | None:
    words = set(parsed.rest.split())
    if parsed.accented:  # compare as typed
        words = {w for w in syllables(text, fold=False) if fold_accents(w) in words}
    members = family(anchors, catalogue)
    fields = {p.field for p in anchors}
    scored = []
    for proc in members:
        cov = _coverage(words, proc, parsed.accented)
        # a member that shares the anchors' core words is closer kin ("căn cước" for a card question)
        kin = 0.25 if related(proc, anchors) else 0.0
        scored.append((cov + kin, cov, proc))
    scored.sort(key=lambda x: -x[0])
    if not scored or scored[0][1] < t.family_min:
        return None
    best = scored[0][0]
    close = [p for s, cov, p in scored if best - s <= t.ambiguity_gap and cov >= t.family_min]
    # words and kinship equal, the anchors' own field decides: "cấp lại" while on "Cấp đổi Giấy chứng
    # nhận" (land) is the land certificate's, not "Cấp lại chứng nhận đăng ký xe" (it shares "chứng nhận")
    close = ([p for p in close if p.field in fields] or close)[: t.max_options]
    situation = variant_markers(text) & SITUATIONS
    if situation and len(close) > 1:
        # "giấy cũ bị mất thì làm lại" while on the disability certificate: the member whose names say
        # the loss ("Đổi, cấp lại …"), not the one whose name merely holds "lại" ("xác định lại")
        close = [p for p in close if names_situation(p, situation)] or close
    if len(anchors) == 1 and anchors[0] in close:
        # "lệ phí đăng ký bao nhiêu" while on the joint-stock company: words its own name holds as well
        # as a sibling's narrow nothing away from it
        close = [anchors[0]]
    if len(close) == 1:
        return Plan("answer", aspect, close, confidence=next(c for _, c, p in scored if p is close[0]),
                    reason="refinement within family, same field")
    if len(close) > 1:
        # the ordinary reading, when one is clearly more ordinary: "vợ tôi là người nước ngoài" is
        # the marriage with a foreigner, not recording one already registered abroad
        qsyl = set(syllables(text))
        keyed = sorted(((_ordinariness_of(short_name(p.name), text, qsyl), p) for p in close), key=lambda x: x[0])
        (v1, x1), first = keyed[0]
        (v2, x2), _ = keyed[1]
        if v1 < v2 or x1 * 2 <= x2:
            return Plan("answer", aspect, [first], confidence=scored[0][1], reason="refinement within family, ordinary case")
        return Plan("choose", aspect, close, confidence=scored[0][1], reason="refinement within family is ambiguous")
    return Plan("answer", aspect, [scored[0][2]], confidence=scored[0][1], reason="refinement within family")


def name_confidence(query: str, proc: Procedure, as_typed: bool) -> float:
    """Share of the question's identifying words found in the procedure's names and aliases.

    ``as_typed``: compare the words with their diacritics.  The search's own confidence
    compares accent-folded words, which is right for text typed without diacritics; when
    the citizen typed them, "ví" (wallet) must not count as "vì".
    """
    fold = not as_typed
    names = name_syllables(proc, fold)
    # an alias's purpose clause counts only beside a word of what the procedure is, as in the search
    heads = set(_syl(proc.name, fold)).union(*(_syl(alias_head(a), fold) for a in proc.aliases))
    best = 0.0
    for text in (query, lexicon.expand(query)):  # the lexicon's wording is an alternative, as in the search
        ident = set(query_text(text).split())
        if as_typed:
            ident = {w for w in syllables(text, fold=False) if fold_accents(w) in ident}
        if ident:
            best = max(best, len(name_words_said(ident, names, heads)) / len(ident))
    return best


# "bố mẹ CHƯA đăng ký kết hôn" says the name but not the wish
NEGATIONS_ACCENTED = ("chưa", "không", "chẳng", "chả", "đã")  # "ĐÃ đăng ký kết hôn bên Đài Loan": done
NEGATIONS = tuple(fold_accents(n) for n in NEGATIONS_ACCENTED)


def said_verbatim(query: str, proc: Procedure, as_typed: bool) -> int:
    """Syllables of the longest name or alias (two syllables or more) the question contains word for word,
    provided it holds every variant marker of the question ("cấp LẠI sổ đỏ" is not "sổ đỏ")."""
    return len(verbatim_phrase(query, proc, as_typed))


def verbatim_phrase(query: str, proc: Procedure, as_typed: bool) -> tuple[str, ...]:
    """The syllables of the longest name or alias the question says word for word (see ``said_verbatim``).

    Aliases are the catalogue's record of how citizens name a procedure: "làm sổ đỏ" is
    first registration, "đổi sổ đỏ" the exchange.  A question that says one verbatim names
    that procedure more surely than any overlap of single words.  Compared with diacritics
    when the citizen typed them.
    """
    fold = not as_typed
    q = syllables(lexicon.expand(query) if fold else query, fold=fold)
    if len(q) < 2:
        return ()
    joined = f" {' '.join(q)} "
    asked = variant_markers(query)
    best: tuple[str, ...] = ()
    for phrase in (short_name(proc.name), *proc.aliases):
        words = _syl(phrase, fold)
        said = f" {' '.join(words)} "
        # "CHƯA TỪNG CÓ giấy khai sinh": a negation up to two syllables before the name
        negated = said in joined and bool(re.search(
            rf" (?:{'|'.join(NEGATIONS if fold else NEGATIONS_ACCENTED)})(?: \S+){{0,2}}{re.escape(said)}", joined))
        if len(words) >= 2 and len(words) > len(best) and said in joined and not negated \
                and asked <= variant_markers(phrase if as_typed else fold_accents(phrase)):
            best = tuple(words)
    return best


def named_after_thu_tuc(text: str, hits: list[Hit], as_typed: bool) -> Hit | None:
    """The hit whose name or alias (two syllables or more) follows "thủ tục" word for word, when
    only one does: "… cho con gái đứng tên riêng thì THỦ TỤC TÁCH THỬA thế nào" names the procedure,
    however many of the story's words dilute the search's coverage before it.  Compared with
    diacritics when the citizen typed them; it must hold every variant marker of the question."""
    fold = not as_typed
    q = syllables(lexicon.expand(text) if fold else text, fold=fold)
    asked = variant_markers(text)
    found: dict[str, int] = {}
    for i in range(len(q) - 3):
        if (fold_accents(q[i]), fold_accents(q[i + 1])) != ("thu", "tuc"):
            continue
        after = f" {' '.join(q[i + 2:])} "
        for h in hits:
            for phrase in (short_name(h.procedure.name), *h.procedure.aliases):
                words = _syl(phrase, fold)
                if len(words) >= 2 and after.startswith(f" {' '.join(words)} ") \
                        and asked <= variant_markers(phrase if as_typed else fold_accents(phrase)):
                    found[h.code] = max(found.get(h.code, 0), len(words))
    longest = max(found.values(), default=0)
    named = [h for h in hits if longest and found.get(h.code) == longest]
    return named[0] if len(named) == 1 else None


# A run of the question's syllables that only one procedure's names and aliases hold, word for
# word: "muốn lãnh TRỢ CẤP THẤT NGHIỆP thì cần giấy tờ gì" names one procedure however long the story
# around it, while shared words ("công ty", "mua bảo hiểm") name none.  At least ALIAS_RUN_MIN
# syllables, or NAME_RUN_MIN of the official name, of which at least two are not qualifiers ("cho
# người nước ngoài" names no procedure by itself).
NAME_RUN_MIN, ALIAS_RUN_MIN, RUN_MAX = 3, 4, 7
_runs: tuple[dict[str, Procedure], dict[tuple[bool, tuple[str, ...]], set[str]]] | None = None


def _name_runs(catalogue: dict[str, Procedure]) -> dict[tuple[bool, tuple[str, ...]], set[str]]:
    """Every run of NAME_RUN_MIN–RUN_MAX syllables of every name and alias (folded and as written) ->
    the codes holding it; built once per catalogue object (a new index brings a new one)."""
    global _runs
    if _runs is None or _runs[0] is not catalogue:
        runs: dict[tuple[bool, tuple[str, ...]], set[str]] = {}
        for proc in catalogue.values():
            for phrase in (short_name(proc.name), *proc.aliases):
                for fold in (True, False):
                    words = _syl(phrase, fold)
                    for n in range(NAME_RUN_MIN, RUN_MAX + 1):
                        for i in range(len(words) - n + 1):
                            runs.setdefault((fold, words[i:i + n]), set()).add(proc.code)
        _runs = (catalogue, runs)
    return _runs[1]


def distinct_run(query: str, proc: Procedure, catalogue: dict[str, Procedure], as_typed: bool) -> int:
    """Syllables of the longest run of the question that only ``proc``'s names and aliases hold.

    Runs that a negation precedes ("chưa có trợ cấp thất nghiệp") or that miss a variant marker
    of the question ("cấp LẠI …") do not count.  Compared with diacritics when the citizen typed them.
    """
    fold = not as_typed
    q = tuple(syllables(query, fold=fold))
    runs = _name_runs(catalogue)
    asked = variant_markers(query)
    phrases = [(k == 0, ph) for k, ph in enumerate((short_name(proc.name), *proc.aliases))]
    negations = NEGATIONS if fold else NEGATIONS_ACCENTED
    for n in range(min(RUN_MAX, len(q)), NAME_RUN_MIN - 1, -1):
        for i in range(len(q) - n + 1):
            run = q[i:i + n]
            if runs.get((fold, run)) != {proc.code}:
                continue
            if sum(fold_accents(w) not in QUALIFIERS for w in run) < 2:
                continue
            if any(w in negations for w in q[max(0, i - 3):i]):
                continue
            joined = f" {' '.join(run)} "
            if any(joined in f" {' '.join(_syl(ph, fold))} " and (official or n >= ALIAS_RUN_MIN)
                   and asked <= variant_markers(ph if as_typed else fold_accents(ph)) for official, ph in phrases):
                return n
    return 0


def _variant_fits_better(winner: Hit, words: tuple[str, ...], near: list[Hit], as_typed: bool) -> bool:
    """Whether a variant whose name extends the said name fits the question's other words as well or better.

    "đăng kí kết hôn với anh người Hàn Quốc" says "đăng ký kết hôn", but "… có yếu tố nước ngoài"
    explains more of its words.  When both explain as much ("còn đăng ký thường trú thì mất bao
    lâu" against the joint birth-and-residence procedure), saying the name settles it.
    """
    # "GIẤY khai sinh" said: "Đăng ký khai sinh kết hợp …" extends it too (the paper's generic noun aside)
    core = list(words)
    while len(core) > 2 and fold_accents(core[0]) in GENERIC_NOUNS:
        core.pop(0)
    said = f" {' '.join(core)} "
    for h in near:
        if h is winner or said not in f" {' '.join(_syl(short_name(h.name), not as_typed))} ":
            continue
        if h.confidence > winner.confidence + 0.05:
            return True
    return False


def shared_by_name(words: tuple[str, ...], winner: Procedure, others: list[Procedure], as_typed: bool) -> bool:
    """Whether an alias the question said is only the common part of several procedures' names.

    "chứng thực chữ ký người dịch" is an alias of the case "… không phải là cộng tác viên" but
    also the start of the name "… là cộng tác viên": saying it does not choose between them.
    The winner's own full name ("đăng ký thường trú" inside "xóa đăng ký thường trú") does.
    """
    said = f" {' '.join(words)} "
    if f" {' '.join(_syl(short_name(winner.name), not as_typed))} " == said:
        return False
    return any(said in f" {' '.join(_syl(short_name(p.name), not as_typed))} " for p in others if p != winner)


def _asked_variants_carried(query: str, h: Hit) -> int:
    """How many of the variant markers the question says the hit's official name carries (folded)."""
    asked = {fold_accents(m) for m in variant_markers(query)}
    return len(asked & {fold_accents(m) for m in variant_markers(short_name(h.name))}) if asked else 0


def adds_variant(query: str, proc: Procedure) -> bool:
    """Whether the question asks for a variant the procedure's name lacks (compared folded)."""
    asked = {fold_accents(m) for m in variant_markers(query)}
    return bool(asked - {fold_accents(m) for m in variant_markers(proc.name)})


def adds_variant_missing(query: str, proc: Procedure) -> bool:
    """Whether the procedure adds a variant the question does not mention (it is a special case)."""
    return _unmentioned_variants(short_name(proc.name), query) > 0


def kin_of(anchors: list[Procedure], procs: list[Procedure]) -> list[Procedure]:
    """Those of ``procs`` that share a core name bigram with an anchor ("khai sinh", "tạm trú")."""
    return [p for p in procs if related(p, anchors)]


def owns_already(text: str) -> bool:
    """The citizen speaks of something they have ("hộ kinh doanh nhà tôi đang bán"), not of founding it."""
    folded = fold_accents(normalize_query(text))
    return bool(_OWNED.search(folded)) and not _ESTABLISH_ASKED.search(folded)


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
    # "sổ đỏ cần giấy tờ gì": no verb, no variant: a family question, equally about its members
    family_question = not variant_markers(query) and not ACTION_VERBS.search(fold_accents(normalize_query(text)))
    # as good a match that adds no variant the question leaves unsaid, behind a top that adds one
    # ("làm thẻ căn cước": the ordinary card, whatever the fused scores of "cấp đổi"/"cấp lại")
    top_extra = _unmentioned_variants(short_name(top.name), query)
    opens = [
        h for h in rest
        if gap(h) <= t.ambiguity_gap or (same_words(h) and gap(h) <= (0.3 if family_question else 0.15))
        or (same_words(h) and _unmentioned_variants(short_name(h.name), query) < top_extra)
        or (either_or and h.procedure in kin and h.confidence >= top.confidence - 0.25)
        # more of the citizen's words, behind a top that the fused score prefers ("giay khai sinh …
        # bi ghi sai ten": the civil-status correction covers more than the insurance card's)
        or (h.confidence >= top.confidence + 0.05 and gap(h) <= 0.35)
        or (variant_asked and variant_markers(short_name(h.name)) and h.confidence >= top.confidence - 0.2
            and gap(h) <= 0.35)
    ]
    situation = variant_markers(query) & SITUATIONS
    if situation and situation == variant_markers(query):
        # "mất giấy khai sinh" and nothing about what to do: every procedure naming this loss may
        # answer it ("mất bằng lái, làm LẠI" says what is wanted)
        opens += [h for h in rest if h not in opens and same_words(h) and names_situation(h.procedure, situation)]
    if not opens:
        return []
    listed = [h for h in rest if h not in opens and same_words(h) and gap(h) <= 0.25]
    return [h for h in rest if h in opens or h in listed]


def names_situation(proc: Procedure, situation: frozenset[str]) -> bool:
    """Whether the procedure's name or one of its aliases says the situation ("mất", "hỏng")."""
    return any(situation & set(_syl(phrase, False)) or situation & set(_syl(phrase))
               for phrase in (proc.name, *proc.aliases))


def _kin_search(hits: list[Hit], anchors: list[Procedure], intent: str | None, intent_confidence: float,
                aspect: str, t: Thresholds) -> Plan | None:
    """Narrow to the family being discussed when the whole catalogue gives no confident answer.

    "tạm trú của tôi sắp hết hạn, muốn gia hạn" after a question on tạm trú: the extension is
    kin of the current procedure, so ``t.family_min`` of its words suffice, as long as it is
    the only kin that close and the NLU sees a question.  A sibling the words name in full, as
    the best hit of the whole catalogue, is taken even when the NLU doubts ("cháu đủ 18 tuổi
    rồi, muốn thôi giám hộ" while on đăng ký giám hộ: the story reads as small talk to it).
    """
    kin = {p.code for p in kin_of(anchors, [h.procedure for h in hits])} - {p.code for p in anchors}
    ranked = [h for h in hits if h.code in kin and h.confidence >= t.family_min]
    named_in_full = bool(ranked) and ranked[0] is hits[0] and ranked[0].confidence >= 0.99 \
        and intent in ("out_of_scope", "nlu_fallback")
    if not ranked or not (named_in_full or may_name(intent, intent_confidence, 1.0, t)):
        return None
    if len(ranked) > 1 and ranked[1].confidence >= ranked[0].confidence - 0.01:
        return None
    return Plan("answer", aspect, [ranked[0].procedure], hits=ranked, confidence=ranked[0].confidence,
                reason="refinement within the current family")


# folded "lan" is "lẫn" only after "ca" ("mất cả cà vẹt lẫn bằng lái"); alone it is "Thái Lan", "lần"
_EITHER_OR_SPLIT = re.compile(r"\s+(?:hay là|hay la|hay|hoặc là|hoac la|hoặc|hoac|lẫn|và|va)\s+")


def _either_or_text(text: str) -> str:
    """Normalized text, with a folded "cả … lan …" read as "cả … lẫn …"."""
    return re.sub(r"(\bca\s.+?)\slan\s", r"\1 lẫn ", normalize_query(text))


def _either_or(text: str, accented: bool, intent: str | None, intent_confidence: float, aspect: str,
               searcher: Searcher, catalogue: dict[str, Procedure], t: Thresholds) -> Plan | None:
    """"làm giám hộ hay nhận con nuôi", "mất cả cà vẹt lẫn bằng lái": each side names its own procedure.

    Both sides are searched apart; when each names a different procedure confidently, the
    citizen is asked which one (both are offered), instead of answering the first.
    """
    parts = _EITHER_OR_SPLIT.split(_either_or_text(text), maxsplit=1)
    if len(parts) != 2 or not may_name(intent, intent_confidence, 1.0, t):
        return None
    def named(part: str, borrowed: bool = False) -> Procedure | None:
        """The procedure one side names; a side that borrows the other's object has words of its
        own beyond the names ("làm cuốn mới luôn"), so it needs only ``family_min`` of them, and
        among equals the one adding no variant it did not say."""
        query = parse(part).query or part
        hits = [h for h in searcher.search(query, k=3) if h.code in catalogue]
        if not hits:
            return None
        top = min(hits, key=lambda h: (-round(name_confidence(query, h.procedure, as_typed=accented), 3),
                                       _unmentioned_variants(short_name(h.name), query) if borrowed else 0))
        least = t.family_min if borrowed else t.search_min
        return top.procedure if name_confidence(query, top.procedure, as_typed=accented) >= least else None

    contents = [[w for w in syllables(p, fold=not accented) if fold_accents(w) in parse(p).rest.split()
                 and fold_accents(w) not in QUALIFIERS] for p in parts]
    if not contents[0] and not contents[1]:
        return None
    if contents[0] and contents[1]:
        found = [named(parts[0]), named(parts[1])]
    else:
        # "đăng ký hay chấm dứt giám hộ", "hộ chiếu mất thì trình báo hay làm cuốn mới": the side
        # of qualifiers only shares the other side's object: the shortest run of its words (the
        # last ones first, where Vietnamese puts the object) that names a procedure of its own
        full, bare = (1, 0) if contents[1] else (0, 1)
        other = named(parts[full])
        found = [other, None]
        words = contents[full]
        runs = [words[i:i + n] for n in range(2, len(words) + 1) for i in range(len(words) - n, -1, -1)]
        for run in runs:
            mine = named(f"{parts[bare]} {' '.join(run)}", borrowed=True)
            if mine is not None and other is not None and mine.code != other.code:
                found = [mine, other] if bare == 0 else [other, mine]
                break
    if None in found or found[0].code == found[1].code:
        return None
    return Plan("choose", aspect, found, confidence=None, reason="either-or names two procedures")


# An age the citizen tells ("con gái mình mới 8 tuổi", "bé 3 tháng tuổi", "chưa đủ 14 tuổi"), and the age
# ranges procedure names state ("cho người dưới 14 tuổi", "từ đủ 14 tuổi trở lên"): the age picks the variant.
_AGE_TOLD = re.compile(r"(?<!\w)(?:(dưới|duoi|chưa đủ|chua du|chưa tới|chua toi|chưa đến|chua den)\s+)?"
                       r"(\d{1,3}|" + "|".join(w for w in WORD_VALUES if w != fold_accents(w)) + r")\s+"
                       r"(tháng\s+|thang\s+)?(?:tuổi|tuoi)(?!\w)")
_AGE_BELOW = re.compile(r"dưới (\d+) tuổi")
_AGE_FROM = re.compile(r"từ đủ (\d+) tuổi")


def told_age(text: str) -> int | None:
    """The age in whole years the message tells, or None (months count as 0; "dưới 14" as 13)."""
    m = _AGE_TOLD.search(normalize_query(text))
    if m is None:
        return None
    under, number, months = m.groups()
    value = int(number) if number.isdigit() else WORD_VALUES[number]
    if months:
        return value // 12
    return value - 1 if under else value


def fits_age(proc: Procedure, age: int) -> bool | None:
    """Whether the age is in the range the procedure's name states (None: it states none)."""
    name = nfc(proc.name).lower()
    below, start = _AGE_BELOW.search(name), _AGE_FROM.search(name)
    if below is None and start is None:
        return None
    return (below is None or age < int(below.group(1))) and (start is None or age >= int(start.group(1)))


def _by_age(text: str, anchors: list[Procedure], catalogue: dict[str, Procedure], aspect: str) -> Plan | None:
    """A told age that the procedure being discussed excludes: its kin for that age, when one fits
    ("à còn con gái mình mới 8 tuổi" while on "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên")."""
    age = told_age(text)
    if age is None or not anchors or not any(fits_age(a, age) is False for a in anchors):
        return None
    fitting = [p for p in kin_of(anchors, list(catalogue.values())) if fits_age(p, age)]
    if len(fitting) != 1:
        return None
    return Plan("answer", aspect, fitting, reason="the age told picks the variant")


# a detail question: at least this many words besides function words, and this share of them in the
# procedure's own text (bare off-topic questions share at most a word or two with it)
DETAIL_MIN_WORDS = 4
DETAIL_MIN_SHARE = 0.7


def _text_words(proc: Procedure) -> set[str]:
    """The syllables of everything the procedure's record says, folded and as written."""
    text = " ".join([proc.name, *proc.aliases, *(d.name for d in proc.documents), *proc.steps, *proc.conditions,
                     proc.result or "", proc.where_to_submit or "", proc.agency])
    return set(_syl(text)) | set(_syl(text, False))  # _syl keeps each record's syllables once


def about_something_else(text: str, aspect: str | None, searcher: Searcher) -> bool:
    """Whether an aspect question holds a foreign word the catalogue never uses ("đổi tiền won ở đâu"):
    it is about something else, so no follow-up; an online question may name an app ("làm trên app etax")."""
    return aspect != "online" and bool(searcher.unknown_words(text))


def tells_apart(query: str, sibling: Procedure, anchors: list[Procedure], accented: bool) -> bool:
    """Whether a word of the question that the sibling's names hold is nowhere in the record of the
    procedure being discussed: "gia hạn" moves from tạm trú to its extension; "bé có phải đi lấy vân
    tay ko" while on the child's card asks about it (its steps take fingerprints too), not the adult's."""
    fold = not accented
    ident = set(query_text(query).split())
    said = {w for w in syllables(query, fold=fold) if fold_accents(w) in ident} & name_syllables(sibling, fold)
    # a variant marker the sibling's names hold and the discussed one's name lacks tells them apart,
    # wherever else its record says it ("bị mất" while on the exchange of the card: the re-issue)
    markers = {w for w in said if fold_accents(w) in _FOLDED_MARKERS}
    anchor_names = set().union(*(_syl(a.name, fold) for a in anchors))
    return bool(said - set().union(*(_text_words(a) for a in anchors)) or markers - anchor_names)


def asks_a_detail(query: str, proc: Procedure, accented: bool) -> bool:
    """Whether the question's words are mostly the procedure's own (its documents, steps, conditions),
    compared with their diacritics when the citizen typed them ("đặt vé" is no "đất")."""
    ident = {w for w in query_text(query).split() if w not in WEAK and not w.isdigit()}
    words = [w for w in syllables(query, fold=not accented) if fold_accents(w) in ident]
    if len(words) < DETAIL_MIN_WORDS:
        return False
    known = _text_words(proc)  # an accented word matches only as written: folded ones have no diacritics
    return sum(w in known for w in words) / len(words) >= DETAIL_MIN_SHARE


def _search(parsed: Parsed, text: str, intent: str | None, intent_confidence: float, aspect: str,
            anchors: list[Procedure], searcher: Searcher, catalogue: dict[str, Procedure], t: Thresholds,
            denied: frozenset[str] = frozenset()) -> Plan:
    if _EITHER_OR_SPLIT.search(_either_or_text(text)):
        plan = _either_or(text, parsed.accented, intent, intent_confidence, aspect, searcher, catalogue, t)
        if plan is not None:
            return plan
    query = parsed.query or text
    # a situation ("mất giấy khai sinh") has several answers, some ranked low by the search
    situation = bool(variant_markers(query) & SITUATIONS)
    hits = [h for h in searcher.search(query, k=8 if situation else 5) if h.code in catalogue]
    hits = [h for h in hits if not carries_variant(h.procedure, denied)] or hits  # "chứ không phải đổi"
    age = told_age(text)
    if age is not None:  # "làm căn cước cho con 8 tuổi": not the card from 14
        hits = [h for h in hits if fits_age(h.procedure, age) is not False] or hits
    owned_kin: list[Hit] = []  # what can be done with something the citizen already has
    if owns_already(text):
        founding = [h for h in hits if _ESTABLISH.search(fold_accents(h.name))]
        hits = [h for h in hits if h not in founding]
        if founding:
            cores = core_bigrams(founding[0].procedure)
            owned_kin = [h for h in hits if core_bigrams(h.procedure) & cores]
    if parsed.accented:  # diacritics are evidence: confidence as typed, and rank by it first
        for h in hits:
            h.confidence = min(h.confidence, name_confidence(query, h.procedure, as_typed=True))
        hits.sort(key=lambda h: -h.confidence)
    # a name or alias of three syllables or more, said word for word, is as sure as full coverage
    # ("bé mới sinh được 2 tuần, làm giấy khai sinh cần gì": the story's words dilute the coverage)
    said = [h for h in hits if said_verbatim(query, h.procedure, parsed.accented) >= 3] \
        if not variant_markers(query) & SITUATIONS else []
    if not said and not variant_markers(query) & SITUATIONS:
        # while a procedure is discussed, a paper the story mentions ("sổ đỏ còn ghi số CHỨNG MINH
        # NHÂN DÂN cũ") is not asked for: only kin of the discussed one; the longest run wins
        runs = {h.code: distinct_run(query, h.procedure, catalogue, parsed.accented) for h in hits
                if not anchors or kin_of(anchors, [h.procedure])}
        longest = max(runs.values(), default=0)
        said = [h for h in hits if longest and runs.get(h.code) == longest]
    if not said and (named := named_after_thu_tuc(normalize_query(text), hits, parsed.accented)):
        said = [named]
    for h in said:
        h.confidence = max(h.confidence, t.search_min)
    if said and hits[0].confidence < t.search_min:
        hits.remove(said[0])
        hits.insert(0, said[0])
    aspect_asked = asked_aspect(parsed, intent, intent_confidence) is not None
    if hits and anchors and not may_name(intent, intent_confidence, hits[0].confidence, t):
        plan = _kin_search(hits, anchors, intent, intent_confidence, aspect, t)
        if plan is not None and not tells_apart(text, plan.procedures[0], anchors, parsed.accented):
            plan = None
        # half the words of a sibling do not turn an aspect question ("làm trên VssID đc ko",
        # "đóng tiền ở đâu") away from what is being discussed
        if plan is not None and not (aspect_asked and (plan.confidence or 0) < t.search_min):
            return plan
    if anchors and aspect_asked and intent not in NOT_A_QUESTION and not about_something_else(text, aspect, searcher) and (
            not hits or not may_name(intent, intent_confidence, hits[0].confidence, t)):
        # an aspect asked with words that name nothing surely: about what is being discussed
        if len(anchors) > 1:
            return Plan("answer_all", aspect, anchors, reason="aspect of pending choice, unsure words")
        return Plan("answer", aspect, anchors, reason="follow-up on current, unsure words")
    if len(owned_kin) > 1 and not may_name(intent, intent_confidence, hits[0].confidence, t) \
            and intent not in NOT_A_QUESTION:
        # "hộ kinh doanh nhà tôi đang bán": which of the things done with one is meant
        options = owned_kin[: t.max_options]
        return Plan("choose", aspect, [h.procedure for h in options], hits=options,
                    confidence=options[0].confidence, reason="something the citizen has: which procedure")
    # "… chỉ cần xin BẢN SAO thôi" while on the marriage re-registration: another procedure's name, no detail
    another_named = len(anchors) == 1 and bool(hits) and hits[0].procedure not in anchors \
        and names_core(query, hits[0].procedure, parsed.accented) and not names_core(query, anchors[0], parsed.accented)
    if len(anchors) == 1 and intent not in NOT_A_QUESTION and asks_a_detail(query, anchors[0], parsed.accented) \
            and not another_named and (not hits or not may_name(intent, intent_confidence, hits[0].confidence, t)):
        # "bé có phải đi cùng để chụp ảnh lấy vân tay k": no procedure's name, but the words of this
        # one's documents, steps and conditions; its steps, said to be the nearest facts, not "I don't know"
        return Plan("answer", "steps" if aspect == "overview" else aspect, anchors, reason="a detail of the current procedure",
                    detail=True)
    if not hits or not may_name(intent, intent_confidence, hits[0].confidence, t):
        # a question the bot could not place while a procedure was being discussed may have
        # been about another one: later follow-ups must not be answered for the old one
        return Plan("fallback", aspect, hits=hits[:3], confidence=hits[0].confidence if hits else None,
                    reason="NLU and search not both confident",
                    forget=bool(anchors) and (intent not in NOT_A_QUESTION or bool(
                        hits and hits[0].confidence >= t.search_min and hits[0].procedure not in anchors)))
    # a hit that fits the words at least as well and carries more of the variants the citizen asked for
    # ("… bị ướt nhòe, mun ĐỔI LẠI": "Đổi, cấp lại giấy xác nhận khuyết tật", not "xác định lại mức độ")
    # Within the ambiguity gap the words fit both equally well: the situation told decides ("nhà tôi bị
    # MẤT sổ đỏ": "Cấp lại Giấy chứng nhận do bị mất" at 0.83, not "Cấp đổi Giấy chứng nhận" at 0.86).
    told = variant_markers(query) & SITUATIONS
    better = [h for h in hits[1:4] if _asked_variants_carried(query, h) > _asked_variants_carried(query, hits[0])
              and (h.confidence >= hits[0].confidence or (
                  h.confidence >= hits[0].confidence - t.ambiguity_gap and told
                  and names_situation(h.procedure, told) and not names_situation(hits[0].procedure, told)))]
    if better:
        first = max(better, key=lambda h: (_asked_variants_carried(query, h), h.confidence))
        hits.remove(first)
        hits.insert(0, first)
    top = hits[0]
    # the conversation's own procedure, when the message fits it as well as the top hit
    # ("còn lệ phí hộ chiếu thì sao" while talking about the passport)
    rank = {h.code: i for i, h in enumerate(sorted(hits, key=lambda h: -h.score))}
    fitting = []
    # "văn bản ĐÓ", "cái NÀY": the thing being discussed ("do" folded, as the last word said)
    this_one = _THAT_ONE.sub(" ", query) if parsed.rest.split()[-1:] in (["do"], ["nay"], ["ay"]) else query
    wants_new = bool(_NEW_ONE.search(fold_accents(normalize_query(text))))
    for proc in anchors:
        if adds_variant(query, proc):  # "hộ chiếu cũ bị MẤT" is not the passport itself
            continue
        if wants_new and _unmentioned_variants(short_name(proc.name), query) \
                > _unmentioned_variants(short_name(top.name), query):
            continue  # "xong rồi làm hộ chiếu MỚI" after reporting it lost: the passport itself
        fit = name_confidence(this_one, proc, as_typed=parsed.accented)
        if fit >= top.confidence - 0.01 and fit >= t.search_min:
            fitting.append((fit, proc))
    if fitting:
        # of the options pending, the one the search ranks first ("lệ phí chứng thực hợp đồng"
        # between the contract and a copy of it), not the first listed
        fit, proc = min(fitting, key=lambda x: (-round(x[0], 3), rank.get(x[1].code, len(rank))))
        return Plan("answer", aspect, [proc], hits=hits, confidence=fit, reason="fits the current procedure")
    # an alias said word for word ("làm sổ đỏ", "cấp lại sổ đỏ"), unless the question offers an
    # either-or or tells a situation ("mất …", "hỏng …") that several procedures may answer
    if not variant_markers(query) & SITUATIONS and not _EITHER_OR.search(fold_accents(text)):
        verbatim = {h.code: verbatim_phrase(query, h.procedure, parsed.accented) for h in hits}
        longest = max(len(v) for v in verbatim.values())
        near = [h for h in hits if h.confidence >= max(t.search_min, top.confidence - 0.2)]
        said = [h for h in near if len(verbatim[h.code]) == longest]
        if longest and len(said) == 1 and not shared_by_name(
                verbatim[said[0].code], said[0].procedure, [h.procedure for h in near], parsed.accented) \
                and not _variant_fits_better(said[0], verbatim[said[0].code], near, parsed.accented):
            return Plan("answer", aspect, [said[0].procedure], hits=hits, confidence=said[0].confidence,
                        reason="names an alias verbatim")
    close = _close_candidates(hits, text, query, t)
    if close and names_core(query, top.procedure, parsed.accented):
        # "mất căn cước thì làm lại cần giấy tờ gì": the card is named; the driving licence, whose alias
        # "làm lại … bị mất" holds only the same situation words, is no option
        close = [h for h in close if same_object(query, top.procedure, h.procedure, parsed.accented)]
    if close:
        options = [top, *close]
        anchor_codes = {p.code for p in anchors if not adds_variant(query, p)}
        inside = [h for h in options if h.code in anchor_codes]
        # the conversation already settled which one of these it is about, unless the citizen's words
        # fit another clearly better ("còn giấy khai sinh … bị rách, xin BẢN SAO ở đâu": the copy, 0.71
        # against the registration's 0.6)
        if len(inside) == 1 and inside[0].confidence >= top.confidence - CONTEXT_DECIDES_GAP:
            return Plan("answer", aspect, [inside[0].procedure], hits=options, confidence=inside[0].confidence,
                        reason="ambiguous, context decides")
        # a member of the family being discussed that carries what the citizen asked ("đăng ký rồi
        # nhưng mất giấy" while on kết hôn: the re-registration of the marriage), even a little behind
        situation = bool(variant_markers(query) & SITUATIONS)
        family = [h for h in hits if kin_of(anchors, [h.procedure]) and h.procedure not in anchors
                  and (not adds_variant(query, h.procedure) or (situation and variant_markers(h.name)))
                  and h.confidence >= max(t.search_min, top.confidence - 0.15)]
        if len(family) == 1:
            return Plan("answer", aspect, [family[0].procedure], hits=options, confidence=family[0].confidence,
                        reason="ambiguous, the current family decides")
        kin = kin_of(anchors, [h.procedure for h in options])
        if len(kin) == 1:  # a refinement within the family being discussed ("… muốn ghi tên bố vào")
            return Plan("answer", aspect, kin, hits=options, confidence=next(h.confidence for h in options
                                                                             if h.code == kin[0].code),
                        reason="ambiguous, the current family decides")
        asked = {fold_accents(m) for m in variant_markers(query)}
        if asked & SITUATIONS and asked - SITUATIONS:
            # "sổ đỏ bị MẤT thì làm LẠI": what happened and what is wanted, both in one name ("Cấp lại
            # Giấy chứng nhận do bị mất"); the exchange and the first registration carry neither
            full = [h for h in options if _asked_variants_carried(query, h) == len(asked)]
            if len(full) == 1:
                return Plan("answer", aspect, [full[0].procedure], hits=options, confidence=full[0].confidence,
                            reason="close candidates, one carries the situation and the wish")
        plain = ordinary_case(options, query, text)
        if plain is not None:
            return Plan("answer", aspect, [plain.procedure], hits=options, confidence=plain.confidence,
                        reason="ordinary case of close candidates")
        options = by_ordinary_case(options, query)
        if variant_markers(query) & SITUATIONS:  # those that name the citizen's situation first
            options.sort(key=lambda h: not names_situation(h.procedure, variant_markers(query) & SITUATIONS))
        options = options[: t.max_options]
        return Plan("choose", aspect, [h.procedure for h in options], hits=options, confidence=top.confidence,
                    reason="close candidates")
    if anchors and not kin_of(anchors, [top.procedure]):
        # narrow within the family being discussed first: "bố cháu là người Hàn Quốc" while on
        # khai sinh is the birth registration with a foreign element, not the foreign marriage
        kin = [h for h in hits if kin_of(anchors, [h.procedure]) and (
            h.confidence > top.confidence + 0.01  # the citizen's words fit it better
            or (h.confidence >= top.confidence - 0.01 and not adds_variant_missing(query, h.procedure)))]
        if kin:
            return Plan("answer", aspect, [kin[0].procedure], hits=[kin[0]], confidence=kin[0].confidence,
                        reason="search, within the current family")
        if not names_core(query, top.procedure, parsed.accented):
            # "à con em có giấy rồi, nhưng bị ướt nhòe hết chữ, muốn xin cấp lại" while on the disability
            # certificate: situation words the land certificate's aliases also hold name no land; another
            # procedure is switched to only when the citizen names it
            plan = _within_family(parsed, text, anchors, list(catalogue.values()), aspect, t)
            if plan is not None:
                return plan
            # "còn hộ chiếu thì sao, em chưa làm bao giờ": the one the question names, if the search is sure of it
            named = [h for h in hits[1:] if h.confidence >= t.search_min
                     and names_core(query, h.procedure, parsed.accented)]
            if named:
                return Plan("answer", aspect, [named[0].procedure], hits=[named[0]], confidence=named[0].confidence,
                            reason="search, the procedure the question names")
            return Plan("fallback", aspect, hits=hits[:3], confidence=top.confidence, reason="another procedure, not named",
                        forget=True)
    return Plan("answer", aspect, [top.procedure], hits=[top], confidence=top.confidence, reason="search")
