"""``python -m backend [--host H] [--port P]``: serve the API with uvicorn.

Refuses to listen on a non-loopback address without ``DNET_API_TOKEN`` (exit code 2) unless
``DNET_ALLOW_INSECURE_BIND=1``: an open API lets anyone on the network start GPU jobs.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from backend.main import create_app
from backend.settings import Settings, insecure_bind_reason

logger = logging.getLogger("backend")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend", description="Difficulty-Net API server")
    parser.add_argument("--host", help="bind address (default: DNET_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: DNET_PORT or 8000)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        logger.error("invalid configuration:\n%s", exc)
        return 2
    reason = insecure_bind_reason(settings)
    if reason:
        logger.error(reason)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
