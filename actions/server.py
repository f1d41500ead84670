"""The action server as ``python -m rasa_sdk`` runs it, with the defaults a province needs.

``rasa_sdk`` listens on every interface and answers anyone.  The action server
needs neither: only the Rasa server calls it.  So this entry point

* listens on loopback unless ``ACTIONS_HOST`` says otherwise (a container's
  private network, for example);
* refuses every call but ``/health`` without the shared secret
  ``ACTION_SERVER_TOKEN``, which the Rasa server sends as the ``token`` query
  parameter (``action_endpoint.token`` in endpoints.yml);
* refuses request bodies over ``ACTIONS_MAX_BODY`` bytes (a tracker is a few
  kB; default 1 MB) with HTTP 413.

    python -m actions.server --port 5055
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from functools import partial

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1_000_000


def create_guarded_app(token: str, max_body: int) -> Sanic:
    """The rasa-sdk app with the shared-secret check and the body limit (module level: workers pickle it)."""
    executor = ActionExecutor()
    executor.register_package("actions")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")))
    parser.add_argument("--host", default=os.environ.get("ACTIONS_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    max_body = int(os.environ.get("ACTIONS_MAX_BODY", DEFAULT_MAX_BODY))
    if not token:
        logger.warning("ACTION_SERVER_TOKEN is not set: the action server answers any caller on %s", args.host)
    loader = AppLoader(factory=partial(create_guarded_app, token, max_body))
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=1, single_process=True)
    logger.info("action server on http://%s:%d (secret %s)", args.host, args.port, "required" if token else "off")
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
