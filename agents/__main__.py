"""`python -m agents worker`: a worker process running every agent of the app."""

from agents import command_agent, extractor_agent, job_agent, projection_agent  # noqa: F401
from agents.app import app

app.main()
