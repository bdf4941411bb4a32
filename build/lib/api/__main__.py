"""`python -m api` (or `export-api`): the API under uvicorn, logging as configured.

It listens on 127.0.0.1:EXPORT_API_PORT unless `--host` / `--port` say otherwise (a
container listens on every interface).

uvicorn gets `log_config=None`, so its own loggers keep no handlers of their own and reach
the root's: one format (JSON by default) for every line the process writes.
"""

from __future__ import annotations

import argparse

import uvicorn

from api.main import create_app
from config.settings import Settings, refuse_unsafe_start
from observability.logs import configure_logging


def main() -> None:
    refuse_unsafe_start("api")
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.api_port)
    args = parser.parse_args()
    try:
        configure_logging(settings.log_format, settings.log_level)
    except ValueError as exc:
        raise SystemExit(f"api: {exc}") from None
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        # Requests are counted in /metrics; a line per request would drown everything else.
        access_log=False,
    )


if __name__ == "__main__":
    main()
