"""Okapi BM25 over an inverted index stored as flat numpy arrays (postings sorted by term).

Written here instead of taken from a package because the index must be saved
with the rest of the artefacts, scored with numpy in well under a
millisecond at 2.7k documents, and scale to 100k documents.

Why flat arrays: the first version kept a dict of one small numpy array pair
per term, built in a Python loop; at 100k procedures that is millions of
tiny arrays, minutes of building and a slow, large pickle.  Now the build
maps every token to a term id once, and numpy sorts and counts (term, doc)
pairs in one pass; a term's postings are the slice ``indptr[t]:indptr[t+1]``.
Indexes pickled by the first version still load (``__setstate__``).
"""

from __future__ import annotations

from collections import Counter
from itertools import chain

import numpy as np


class BM25Index:
    """BM25 scores of every document for a bag of query terms."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, ids: np.ndarray, tfs: np.ndarray,
                 idf: np.ndarray, doc_len: np.ndarray, k1: float = 1.2, b: float = 0.6) -> None:
        self.vocab = vocab
        self.indptr = indptr
        self.ids = ids
        self.tfs = tfs
        self.idf_arr = idf
        self.doc_len = doc_len
        self.avg_len = float(doc_len.mean()) if len(doc_len) else 0.0
        self.k1 = k1
        self.b = b

    @property
    def postings(self) -> dict[str, int]:
        """The vocabulary (term → term id); ``len(index.postings)`` is the number of terms."""
        return self.vocab

    @classmethod
    def build(cls, docs: list[list[str]], k1: float = 1.2, b: float = 0.6) -> BM25Index:
        """Index ``docs`` (one list of terms per document)."""
        collector = TermCollector()
        collector.add(docs)
        return collector.index(k1, b)

    @classmethod
    def _from_term_ids(cls, vocab: dict[str, int], term_ids: np.ndarray, lengths: np.ndarray, k1: float,
                       b: float) -> BM25Index:
        n_docs = len(lengths)
        doc_ids = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        n = max(n_docs, 1)
        uniq, counts = np.unique(term_ids * n + doc_ids, return_counts=True)
        return cls._from_postings(vocab, uniq // n, uniq % n, counts.astype(np.float32), n_docs, k1, b)

    @classmethod
    def _from_postings(cls, vocab: dict[str, int], terms: np.ndarray, docs: np.ndarray, tfs: np.ndarray, n_docs: int,
                       k1: float, b: float) -> BM25Index:
        """The index of (term id, doc id, tf) rows, one per distinct (term, doc)."""
        n = max(n_docs, 1)
        order = np.argsort(terms * n + docs, kind="stable")
        terms, docs, tfs = terms[order], docs[order], tfs[order].astype(np.float32)
        df = np.bincount(terms, minlength=len(vocab))
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        doc_len = np.bincount(docs, weights=tfs, minlength=n_docs).astype(np.float32)
        return cls(vocab, indptr, docs.astype(np.int32), tfs, idf, doc_len, k1, b)

    def updated(self, keep: np.ndarray, new_docs: dict[int, list[str]]) -> BM25Index:
        """A new index whose document ``i`` is old document ``keep[i]`` (or ``new_docs[i]`` when ``keep[i] < 0``).

        Why: a one-procedure publish re-segments one procedure instead of all of them, and no
        per-document term lists need to be stored (at 100k they took 665 MB): the postings of
        the unchanged documents are carried over as arrays.
        """
        n_docs = len(keep)
        old2new = np.full(len(self.doc_len), -1, np.int64)
        kept = np.nonzero(keep >= 0)[0]
        old2new[keep[kept]] = kept
        terms = np.repeat(np.arange(len(self.vocab), dtype=np.int64), np.diff(self.indptr))
        docs = old2new[self.ids.astype(np.int64)]
        mask = docs >= 0
        vocab = dict(self.vocab)
        add_t, add_d, add_f = [], [], []
        for i, doc in new_docs.items():
            for term, tf in Counter(doc).items():
                add_t.append(vocab.setdefault(term, len(vocab)))
                add_d.append(i)
                add_f.append(tf)
        return self._from_postings(
            vocab,
            np.concatenate([terms[mask], np.asarray(add_t, np.int64)]),
            np.concatenate([docs[mask], np.asarray(add_d, np.int64)]),
            np.concatenate([self.tfs[mask], np.asarray(add_f, np.float32)]),
            n_docs, self.k1, self.b,
        )

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every document for the query (zeros where no term matches)."""
        out = np.zeros(len(self.doc_len), np.float32)
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / max(self.avg_len, 1e-9))
        for term, qtf in Counter(query_terms).items():
            t = self.vocab.get(term)
            if t is None:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            ids, tfs = self.ids[lo:hi], self.tfs[lo:hi]
            out[ids] += qtf * self.idf_arr[t] * tfs * (self.k1 + 1) / (tfs + norm[ids])
        return out

    def __setstate__(self, state: dict) -> None:
        """Load both this layout and the first version's (``postings`` dict of arrays, ``idf`` dict)."""
        if "vocab" in state:
            self.__dict__.update(state)
            return
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = state["postings"]
        vocab = {t: i for i, t in enumerate(postings)}
        df = np.asarray([len(postings[t][0]) for t in vocab], np.int64)
        indptr = np.zeros(len(vocab) + 1, np.int64)
        np.cumsum(df, out=indptr[1:])
        ids = np.concatenate([postings[t][0] for t in vocab]).astype(np.int32) if vocab else np.zeros(0, np.int32)
        tfs = np.concatenate([postings[t][1] for t in vocab]).astype(np.float32) if vocab else np.zeros(0, np.float32)
        idf = np.asarray([state["idf"][t] for t in vocab], np.float32)
        self.__init__(vocab, indptr, ids, tfs, idf, state["doc_len"], state.get("k1", 1.2), state.get("b", 0.6))


class TermCollector:
    """Documents' terms turned into term ids chunk by chunk (ids in order of first occurrence).

    Why: a 100k build kept every document's list of term strings (25M strings, gigabytes)
    until the index was built; the build now adds each worker's chunk as it arrives and keeps
    only int64 ids.  ``BM25Index.build(docs)`` is ``add(docs)`` then ``index()``.
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._ids: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []

    def add(self, docs: list[list[str]]) -> None:
        vocab = self.vocab
        new = [t for t in dict.fromkeys(chain.from_iterable(docs)) if t not in vocab]
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        self._lengths.append(lengths)
        self._ids.append(np.fromiter(map(vocab.__getitem__, chain.from_iterable(docs)), dtype=np.int64,
                                     count=int(lengths.sum())))

    def index(self, k1: float = 1.2, b: float = 0.6) -> BM25Index:
        term_ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        self._ids, self._lengths = [], []
        return BM25Index._from_term_ids(self.vocab, term_ids, lengths, k1, b)
