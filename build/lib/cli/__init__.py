"""exportctl: the export service from a terminal (submit, watch, list, download)."""
