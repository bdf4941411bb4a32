"""Configuration of the service and the wiring of its collaborators."""
