"""The live searcher, swapped to a newly published index in the background.

Why: a publish (or rollback) moves ``models/kb/current`` to a new index
directory.  Loading an index takes a second or more (procedure validation,
the encoder, faiss), and the action server answers citizens on one event
loop, so the load must never happen inside a citizen's turn.  A daemon
thread polls the ``current`` link (``KB_RELOAD_POLL_S``, default 0.5 s),
loads a new target completely, then swaps one reference; turns in flight
keep the searcher they started with, and every turn sees either the old or
the new index as a whole.  An index that fails to load is logged and retried
after 30 s while the old one keeps serving.

Only the very first load in a process, or a different data directory
(``KB_DATA_DIR`` changed, as tests do), loads synchronously: there is
nothing else to answer from.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge_base import index as kb_index

if TYPE_CHECKING:
    from knowledge_base.retrieval import Searcher

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0


def _load(target: Path, previous: Searcher | None = None) -> Searcher:
    """Load ``target``; with ``previous`` (a reload), unchanged procedures, their name syllables
    and an identical encoder are taken over instead of being validated and built again."""
    from knowledge_base.retrieval import Searcher

    loaded = kb_index.load(target, check_catalogue=False, previous=previous.index if previous is not None else None)
    try:
        kb_index.load_check_catalogue(loaded)
    except kb_index.StaleIndexError as exc:
        # the snapshot is self-consistent; going silent would help nobody
        logger.warning("%s — serving the indexed snapshot until the next build", exc)
    return Searcher(loaded, previous=previous)


class LiveSearcher:
    """Holds the searcher over ``<data dir>/current`` and replaces it when the link moves."""

    def __init__(self, poll_s: float | None = None) -> None:
        self.poll_s = poll_s if poll_s is not None else float(os.environ.get("KB_RELOAD_POLL_S", "0.5"))
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._path: Path | None = None
        self._root: Path | None = None
        self._failed_until: dict[Path, float] = {}
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.reloads = 0

    def get(self) -> Searcher:
        """The current searcher; never waits for a reload (only for the first load)."""
        link = kb_index.current_dir()
        searcher = self._searcher
        if searcher is not None and self._root == link.parent:
            return searcher
        with self._lock:
            if self._searcher is None or self._root != link.parent:
                target = link.resolve()
                self._searcher = _load(target)
                self._path, self._root = target, link.parent
            self._start_watcher()
            return self._searcher

    def _start_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="kb-index-reload", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        """Stop the watcher thread (tests; a server simply exits)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any one bad index
                logger.exception("index reload failed")

    def refresh(self) -> bool:
        """Load the index ``current`` points at if it is new; True when the searcher was replaced."""
        root = self._root
        if root is None:
            return False
        try:
            target = (root / "current").resolve(strict=True)
        except OSError:
            return False
        if target == self._path or self._failed_until.get(target, 0.0) > time.monotonic():
            return False
        t0 = time.perf_counter()
        try:
            searcher = _load(target, previous=self._searcher)
        except Exception:
            logger.exception("new index %s could not be loaded; still serving %s", target, self._path)
            self._failed_until[target] = time.monotonic() + RETRY_AFTER_S
            return False
        with self._lock:
            if self._root != root:
                return False
            self._searcher, self._path = searcher, target
            self.reloads += 1
        logger.info("now serving index %s (loaded in %.2fs, off the request path)", target.name, time.perf_counter() - t0)
        return True


LIVE = LiveSearcher()
