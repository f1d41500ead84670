"""Okapi BM25 over an inverted index of term → (doc ids, term frequencies).

Written here instead of taken from a package because the index must be saved
with the rest of the artefacts, scored with numpy in well under a
millisecond at 2.7k documents, and scale to 100k documents.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass
class BM25Index:
    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    idf: dict[str, float]
    doc_len: np.ndarray
    avg_len: float
    k1: float = 1.2
    b: float = 0.6

    @classmethod
    def build(cls, docs: list[list[str]], k1: float = 1.2, b: float = 0.6) -> BM25Index:
        tmp: dict[str, tuple[list[int], list[int]]] = {}
        for i, terms in enumerate(docs):
            for term, tf in Counter(terms).items():
                ids, tfs = tmp.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        n = len(docs)
        postings = {t: (np.asarray(ids, np.int32), np.asarray(tfs, np.float32)) for t, (ids, tfs) in tmp.items()}
        idf = {t: float(np.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))) for t, (ids, _) in postings.items()}
        doc_len = np.asarray([len(d) for d in docs], np.float32)
        return cls(postings, idf, doc_len, float(doc_len.mean()) if n else 0.0, k1, b)

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every document for the query (zeros where no term matches)."""
        out = np.zeros(len(self.doc_len), np.float32)
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / max(self.avg_len, 1e-9))
        for term, qtf in Counter(query_terms).items():
            post = self.postings.get(term)
            if post is None:
                continue
            ids, tfs = post
            out[ids] += qtf * self.idf[term] * tfs * (self.k1 + 1) / (tfs + norm[ids])
        return out
