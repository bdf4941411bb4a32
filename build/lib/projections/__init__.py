"""Read models in PostgreSQL, folded from export.events and rebuildable from it."""
