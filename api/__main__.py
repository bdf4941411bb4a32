"""`python -m api`: the API under uvicorn on 127.0.0.1:EXPORT_API_PORT, logging as configured.

uvicorn gets `log_config=None`, so its own loggers keep no handlers of their own and reach
the root's: one format (JSON by default) for every line the process writes.
"""

from __future__ import annotations

import uvicorn

from api.main import create_app
from config.settings import Settings
from observability.logs import configure_logging


def main() -> None:
    settings = Settings.from_env()
    try:
        configure_logging(settings.log_format, settings.log_level)
    except ValueError as exc:
        raise SystemExit(f"api: {exc}") from None
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=settings.api_port,
        log_config=None,
        # Requests are counted in /metrics; a line per request would drown everything else.
        access_log=False,
    )


if __name__ == "__main__":
    main()
