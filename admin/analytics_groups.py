"""Group unanswered phrasings so that similar questions appear together (TF-IDF, cosine similarity).

Why TF-IDF and not the bot's dense search model: the phrasings are short, already
accent-folded and masked (the keys of ``conversation_turn``), and the page must render in
well under two seconds over a large history; word unigrams and bigrams weighted by
TF-IDF separate "lam ho chieu cho con" from "lam the can cuoc" in milliseconds without
loading a neural model into the admin process.  Grouping is greedy and deterministic:
the most frequent phrasing not yet grouped leads a group and takes every ungrouped
phrasing at least ``threshold`` similar to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from admin.analytics_store import Phrasing

DEFAULT_THRESHOLD = 0.5
# Folded words that say nothing about the question: the masks' own words ("[địa chỉ]", "sđt ***",
# "mail ***@gmail.com") and the politeness around a question ("cho em hỏi", "ạ", "nhé").
STOP_WORDS = sorted(set(
    "dia chi sdt so dien thoai cccd cmnd can cuoc mail email gmail com yahoo vn toi em minh anh chi cho hoi muon xin "
    "a ah a nhe oi voi la thi co khong ko k duoc dc vay the ban ad admin".split()))
EXAMPLES = 5


@dataclass
class Group:
    """Similar unanswered phrasings: the leader (most frequent), all members, total turns."""

    id: str
    leader: Phrasing
    members: list[Phrasing] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(m.count for m in self.members)

    @property
    def examples(self) -> list[Phrasing]:
        return self.members[:EXAMPLES]

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.members]


def group_id(key: str) -> str:
    """A short stable id of a group, from its leader's key (for anchors and tests)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def group(phrasings: list[Phrasing], threshold: float = DEFAULT_THRESHOLD) -> list[Group]:
    """Greedy grouping of ``phrasings`` (sorted by count, most frequent first); groups by total count."""
    items = sorted(phrasings, key=lambda p: (-p.count, p.key))
    if not items:
        return []
    try:
        vec = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b[^\W\d_]\w*\b",
                              stop_words=STOP_WORDS)
        matrix = vec.fit_transform([p.key for p in items])
        sims = (matrix @ matrix.T).toarray()
    except ValueError:  # nothing but stop characters: every phrasing alone
        sims = np.eye(len(items))
    free = np.ones(len(items), dtype=bool)
    groups: list[Group] = []
    for i, lead in enumerate(items):
        if not free[i]:
            continue
        take = free & (sims[i] >= threshold)
        take[i] = True
        idx = np.flatnonzero(take)
        free[idx] = False
        groups.append(Group(group_id(lead.key), lead, [items[j] for j in idx]))
    groups.sort(key=lambda g: (-g.count, g.leader.key))
    return groups
