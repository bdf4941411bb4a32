"""`python -m agents worker`: a worker process running every agent of the app."""

from agents import (  # noqa: F401 - imported to register the agents
    command_agent,
    delivery_agent,
    diagnostics,
    extractor_agent,
    job_agent,
    projection_agent,
    retention_agent,
)
from agents.app import app

app.main()
