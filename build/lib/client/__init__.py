"""A small client for other services: publish export commands, wait for completion notices."""
