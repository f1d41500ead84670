"""Procedure knowledge base: catalogue, importer, index and hybrid search.

``from knowledge_base import search`` is the public entry point::

    from knowledge_base import search
    search("lam the can cuoc mat bao lau", k=5)   # hits with code, name, score, confidence

The search code lives in ``knowledge_base.retrieval`` (not in a submodule named
``search``: importing such a submodule would replace this function by the module
on the package) and is imported on first use, so that importing the package for
the schema, say, does not pull in torch and faiss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge_base.retrieval import Hit

__all__ = ["search"]


def search(query: str, k: int = 5, retriever: str = "hybrid") -> list[Hit]:
    """Search the live catalogue (``models/kb/current``) for ``query``: the top ``k`` hits."""
    from knowledge_base.retrieval import search as _search

    return _search(query, k=k, retriever=retriever)
