"""Procedure knowledge base: catalogue, importer, index and hybrid search.

``from knowledge_base import search`` is the public entry point.  It is
resolved lazily so that importing the package (for the schema, say) does not
pull in torch and faiss.
"""

from __future__ import annotations

from typing import Any

__all__ = ["search"]


def __getattr__(name: str) -> Any:
    if name == "search":
        from knowledge_base.search import search

        return search
    raise AttributeError(name)
