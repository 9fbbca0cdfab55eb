"""``python -m dashboard [--host H] [--port P]``: serve the dashboard with waitress (production WSGI).

Settings come from ``DNET_*`` variables (``DNET_API_URL``, ``DNET_API_TOKEN``, ``DNET_DASHBOARD_HOST``,
``DNET_DASHBOARD_PORT``, ``DNET_POLL_INTERVAL_MS``); bad values exit with code 2 and a readable message.
"""

from __future__ import annotations

import argparse
import logging
import sys

import waitress
from pydantic import ValidationError

from dashboard.app import create_app
from dashboard.settings import DashboardSettings

logger = logging.getLogger("dashboard")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="Difficulty-Net dashboard")
    parser.add_argument("--host", help="bind address (default: DNET_DASHBOARD_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: DNET_DASHBOARD_PORT or 8050)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {
        key: value
        for key, value in (("dashboard_host", args.host), ("dashboard_port", args.port))
        if value is not None
    }
    try:
        settings = DashboardSettings(**overrides)
    except ValidationError as exc:
        logger.error("invalid configuration:\n%s", exc)
        return 2
    app = create_app(settings)
    logger.info(
        "dashboard on http://%s:%d (backend %s)",
        settings.dashboard_host,
        settings.dashboard_port,
        settings.api_base,
    )
    waitress.serve(
        app.server,
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        threads=settings.dashboard_threads,
        ident="difficultynet-dashboard",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
