"""Faust agents of the export service: one app, declared in agents.app."""
