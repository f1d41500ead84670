"""Hybrid search: BM25 + dense retrieval fused with reciprocal rank fusion, then reranked.

Neither retriever alone is good enough on citizen questions (see the issue's
measured starting points), so the final score adds evidence the catalogue
itself gives: how much of the question an alias or the official name covers,
colloquial-lexicon matches, and a prior for the procedures citizens actually
meet (cấp xã / cấp tỉnh, for công dân) over ministry-level variants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from knowledge_base import index as kb_index
from knowledge_base import lexicon
from knowledge_base.features import alias_head, lexical_terms, name_words_said, query_text, short_name
from knowledge_base.schema import Procedure
from vntext import nfc, syllables
from vntext.language import LOANWORDS, is_vietnamese_syllable

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000  # longer input is cut: nobody names a procedure in 2,000 characters


@dataclass
class Weights:
    """Fusion weights; tuned on the dev set of the curated catalogue (benchmarks/)."""

    rrf_k: float = 3.0
    lexical: float = 0.8
    dense: float = 1.0
    coverage: float = 0.02
    prior: float = 0.002
    candidates: int = 50


@dataclass
class Hit:
    code: str
    name: str
    score: float
    matched_fields: list[str]
    procedure: Procedure = field(repr=False)
    # Share (0..1) of the question's identifying words found in this procedure's
    # names and aliases: the dialogue uses it to decide between answering,
    # asking which procedure is meant, and saying "I don't know".
    confidence: float = 0.0

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 3),
            "matched_fields": self.matched_fields,
        }


def _coverage(query_syl: list[str], phrase_syl: list[str]) -> float:
    """Share of the query's identifying syllables that the phrase contains, weighted by phrase fit."""
    if not query_syl or not phrase_syl:
        return 0.0
    pset = set(phrase_syl)
    qset = set(query_syl)
    inter = len(qset & pset)
    return (inter / len(qset)) * (inter / len(pset)) ** 0.5


class Searcher:
    """Answers queries over one loaded index."""

    def __init__(self, loaded: kb_index.LoadedIndex, weights: Weights | None = None,
                 previous: Searcher | None = None) -> None:
        """``previous``: the searcher being replaced; its per-procedure name syllables are reused
        for the procedures ``loaded`` took over from it unchanged (``index.load(previous=...)``)."""
        self.index = loaded
        self.weights = weights or Weights()
        procs = loaded.procedures
        self.priors = np.asarray([p.citizen_priority for p in procs], np.float32)
        old = {id(p): j for j, p in enumerate(previous.index.procedures)} if previous is not None else {}
        # folded syllables of each procedure's names (official short name + aliases)
        self.name_syl: list[list[list[str]]] = []
        self.name_set: list[set[str]] = []
        # the same without the aliases' purpose clauses ("… để vay ngân hàng"): see ``search``
        self.head_set: list[set[str]] = []
        for p in procs:
            j = old.get(id(p))
            if j is not None and previous.index.procedures[j] is p:
                self.name_syl.append(previous.name_syl[j])
                self.name_set.append(previous.name_set[j])
                self.head_set.append(previous.head_set[j])
            else:
                groups = [syllables(short_name(p.name))] + [syllables(a) for a in p.aliases]
                self.name_syl.append(groups)
                self.name_set.append(set().union(*groups))
                self.head_set.append(set(syllables(short_name(p.name))).union(*(syllables(alias_head(a)) for a in p.aliases)))
        # every folded syllable the catalogue uses anywhere it is indexed, in a name or in the lexicon
        self.known: set[str] = {t for t in loaded.bm25.vocab if "_" not in t}.union(*self.name_set).union(
            *(s for e in lexicon.load_lexicon() for term in e.terms for s in term))

    def _lexical(self, expanded: str) -> np.ndarray:
        return self.index.bm25.scores(lexical_terms(query_text(expanded)))

    def _dense(self, expanded: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        vec = self.index.encoder.encode([expanded])
        sims, ids = self.index.faiss_index.search(vec, n)  # type: ignore[attr-defined]
        return ids[0], sims[0]

    def search(self, query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
        """Top ``k`` procedures for ``query``; retriever is "hybrid", "lexical" or "dense"."""
        query = nfc(query)[:MAX_QUERY_CHARS]
        if not query or not syllables(query):
            return []
        w = self.weights
        n_docs = len(self.index.procedures)
        n = min(w.candidates, n_docs)
        expanded = lexicon.expand(query)
        lex_matches = lexicon.matches(query)
        fused = np.zeros(n_docs, np.float32)
        lex_scores = self._lexical(expanded) if retriever in {"hybrid", "lexical"} else None
        dense_ids = dense_sims = None
        if retriever in {"hybrid", "dense"}:
            dense_ids, dense_sims = self._dense(expanded, n)
        if retriever == "lexical":
            fused = lex_scores
        elif retriever == "dense":
            fused[dense_ids] = dense_sims + 2.0  # rank by similarity alone
        else:
            lex_top = np.argsort(-lex_scores)[:n]
            lex_top = lex_top[lex_scores[lex_top] > 0]
            fused[lex_top] += w.lexical / (w.rrf_k + 1 + np.arange(len(lex_top)))
            fused[dense_ids] += w.dense / (w.rrf_k + 1 + np.arange(len(dense_ids)))
            cand = np.nonzero(fused)[0]
            qsyl = query_text(expanded).split()
            for i in cand:
                cov = max(_coverage(qsyl, s) for s in self.name_syl[i])
                fused[i] += w.coverage * cov + w.prior * self.priors[i]
        order = [int(i) for i in np.argsort(-fused)[:k] if fused[i] > 0]
        hits = []
        qset = set(syllables(query))
        # Confidence: the share of the question's identifying words found in the names and
        # aliases.  The lexicon's official wording is an alternative way to find them, not more
        # words to find: "… hết hạn, muốn gia hạn" must not need "cấp đổi điều chỉnh" too.
        # A foreign word the catalogue never uses ("wifi", "marathon", "iphone") says the question is
        # about something else: it counts twice against the share, so the generic words beside it
        # ("đăng ký", "bị mất") do not make a confident match of an off-topic question.  Vietnamese
        # words the catalogue lacks do not: a citizen's story ("quán cơm", "em gái tên Thuý") is
        # full of them.
        # An alias's purpose clause ("… để vay ngân hàng") counts only beside a word of what the
        # procedure is: "vay ngân hàng mua nhà cần giấy tờ gì" is no marital-status certificate.
        idents = [s for s in (set(query_text(query).split()), set(query_text(expanded).split())) if s]
        unknown = len(self.unknown_words(query))
        for i in order:
            proc = self.index.procedures[i]
            conf = max((len(name_words_said(ident, self.name_set[i], self.head_set[i])) / (len(ident) + unknown)
                        for ident in idents), default=0.0)
            matched = self._matched(proc, i, qset, lex_matches, dense_ids)
            hits.append(Hit(proc.code, proc.name, float(fused[i]), matched, proc, conf))
        return hits

    def unknown_words(self, query: str) -> set[str]:
        """The question's foreign words that the catalogue uses nowhere (not Vietnamese syllables,
        not a loanword of procedures such as "online", no digits)."""
        return {w for w in query_text(query).split() if w not in self.known and w not in LOANWORDS
                and not is_vietnamese_syllable(w) and not any(ch.isdigit() for ch in w)}

    def _matched(self, proc: Procedure, i: int, qset: set[str], lex_matches: list[str], dense_ids) -> list[str]:  # noqa: ANN001
        """Which fields of the procedure the query matched: for audits and for the UI."""
        fields = []
        if qset & set(syllables(proc.name)):
            fields.append("name")
        if any(qset & set(syllables(a)) for a in proc.aliases):
            fields.append("aliases")
        if qset & set(syllables(proc.field)):
            fields.append("field")
        if lex_matches and any(set(syllables(m)) & set(syllables(proc.name)) for m in lex_matches):
            fields.append("lexicon")
        if dense_ids is not None and i in set(int(x) for x in dense_ids[:10]):
            fields.append("semantic")
        return fields


def default_searcher() -> Searcher:
    """The searcher over ``models/kb/current``; a newly made-current index is loaded in the background.

    A live server keeps answering from the index's own procedure snapshot when
    the catalogue changed but no new index was built yet (it logs why):
    going silent would help nobody, and the snapshot is self-consistent.  A
    missing, corrupt or wrong-model index is still refused.  The reload after a
    publish happens off the request path (``knowledge_base.live``).
    """
    from knowledge_base.live import LIVE

    return LIVE.get()


def search(query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
    """Search the live catalogue: ``search("lam so do het bao nhieu", k=5)``."""
    return default_searcher().search(query, k=k, retriever=retriever)
