"""The action server as ``python -m rasa_sdk`` runs it, with the defaults a province needs.

``rasa_sdk`` listens on every interface and answers anyone.  The action server
needs neither: only the Rasa server calls it.  So this entry point

* listens on loopback unless ``ACTIONS_HOST`` says otherwise (a container's
  private network, for example);
* refuses every call but ``/health`` without the shared secret
  ``ACTION_SERVER_TOKEN``, which the Rasa server sends as the ``token`` query
  parameter (``action_endpoint.token`` in endpoints.yml);
* refuses request bodies over ``ACTIONS_MAX_BODY`` bytes (a tracker is a few
  kB; default 1 MB) with HTTP 413;
* runs the actions' synchronous ``run`` methods in a thread pool
  (``ACTIONS_THREADS`` threads, default 4; 0 runs them inline as rasa-sdk does).
  rasa-sdk calls a synchronous ``run`` directly on the event loop, so one turn's
  search (encoder, faiss, resolver) held up every other request, the ``/health``
  probe included; in the pool the loop keeps accepting and answering while the
  search runs, and numpy/faiss/torch release the GIL for part of it;
* loads the search index before it opens its port (``ACTIONS_PRELOAD``, default
  1): a process that starts (or restarts behind nginx, under load) takes
  traffic only once it can answer at once, instead of holding its first calls
  for the 10–25 s the index and the encoder take to load.

    python -m actions.server --port 5055 [--package actions]
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import inspect
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1_000_000
DEFAULT_THREADS = 4

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use (after Sanic has forked, if it ever does)."""
    global _POOL
    if _POOL is None:
        threads = int(os.environ.get("ACTIONS_THREADS", DEFAULT_THREADS)) or DEFAULT_THREADS
        _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="action")
    return _POOL


class InThreadPool:
    """A synchronous action ``run`` made awaitable: it runs in the pool, off the event loop.

    A class rather than a closure so that the executor stays picklable; its ``__call__`` has
    the three parameters rasa-sdk checks for (dispatcher, tracker, domain).
    """

    def __init__(self, run: Callable[..., Any]) -> None:
        self.run = run

    async def __call__(self, dispatcher: Any, tracker: Any, domain: Any) -> Any:  # noqa: ANN401
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_pool(), partial(self.run, dispatcher, tracker, domain))


class ThreadedActionExecutor(ActionExecutor):
    """rasa-sdk's executor, except that synchronous actions run in the thread pool.

    Each action gets its own dispatcher and tracker per call (rasa-sdk makes them per
    request), so running two turns at once shares only what the actions share anyway: the
    live searcher (swapped under a lock, knowledge_base/live.py) and read-only tables.
    """

    def __init__(self, threaded: bool = True) -> None:
        super().__init__()
        self.threaded = threaded

    def register_function(self, action_name: str, f: Callable[..., Any]) -> None:
        if self.threaded and not inspect.iscoroutinefunction(f) and not isinstance(f, InThreadPool):
            f = InThreadPool(f)
        super().register_function(action_name, f)


def create_guarded_app(token: str, max_body: int, packages: tuple[str, ...] = ("actions",)) -> Sanic:
    """The rasa-sdk app with the shared-secret check and the body limit (module level: workers pickle it)."""
    executor = ThreadedActionExecutor(threaded=os.environ.get("ACTIONS_THREADS", "") != "0")
    for package in packages:
        executor.register_package(package)
    app = create_app_for_serve(executor, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = max_body

    @app.exception(PayloadTooLarge)
    async def too_large(request: Request, exc: PayloadTooLarge) -> HTTPResponse:
        return response.json({"error": f"request body over {max_body} bytes"}, status=413)

    @app.middleware("request")
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path == "/health" or not token:
            return None
        if hmac.compare_digest(request.args.get("token", ""), token):
            return None
        return response.json({"error": "missing or wrong action server token"}, status=401)

    return app


def preload_index() -> None:
    """Load the live search index now (knowledge_base/live.py), before the port opens; a failure
    is logged and left to the first turn, which answers honestly when there is no index."""
    import time

    from knowledge_base.retrieval import default_searcher

    t0 = time.perf_counter()
    try:
        default_searcher().search("làm căn cước cần giấy tờ gì")  # the encoder's first call is slow too
    except Exception:  # the turn's own error path says "I don't know" and the hotline
        logger.exception("search index could not be preloaded")
        return
    logger.info("search index loaded in %.1fs, before taking traffic", time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--package", action="append", help="package of actions to register (default: actions)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    max_body = int(os.environ.get("ACTIONS_MAX_BODY", DEFAULT_MAX_BODY))
    if not token:
        logger.warning("ACTION_SERVER_TOKEN is not set: the action server answers any caller on %s", args.host)
    packages = tuple(args.package or ["actions"])
    if "actions" in packages and os.environ.get("ACTIONS_PRELOAD", "1") != "0":
        preload_index()
    loader = AppLoader(factory=partial(create_guarded_app, token, max_body, packages))
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=1, single_process=True)
    logger.info("action server on http://%s:%d (secret %s)", args.host, args.port, "required" if token else "off")
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
