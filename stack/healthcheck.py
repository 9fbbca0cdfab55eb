"""Container health check: ``python -m stack.healthcheck URL`` exits 0 when URL answers HTTP 200.

Used by the Dockerfile's HEALTHCHECK and docker-compose (the slim image has no curl).
"""

from __future__ import annotations

import argparse

import httpx

EXIT_HEALTHY, EXIT_UNHEALTHY = 0, 1


def check(url: str, timeout_s: float) -> tuple[bool, str]:
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return False, f"{url}: {type(exc).__name__}: {exc}"
    return response.status_code == 200, f"{url}: HTTP {response.status_code}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.healthcheck", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    args = parser.parse_args(argv)
    healthy, detail = check(args.url, args.timeout)
    print(detail)  # noqa: T201 - a health check's output is what `docker inspect` shows
    return EXIT_HEALTHY if healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    raise SystemExit(main())
