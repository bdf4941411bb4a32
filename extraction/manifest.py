"""manifest.json: what an export holds, written beside its files when it completes."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from domain.job import JobState
from domain.validation import resolve
from extraction.store import publish

MANIFEST = "manifest.json"


def build_manifest(state: JobState, completed_at: datetime) -> dict[str, Any]:
    """Format and options, schema, files with checksums, totals, snapshot and notes."""
    request = state.request
    query = resolve(request)
    files = state.files
    return {
        "jobId": state.job_id,
        "tenantId": state.tenant_id,
        "name": request.name,
        "format": request.format.value,
        "formatOptions": request.format_options.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        if request.format_options
        else {},
        "compression": request.compression,
        "source": query.source.name,
        "schema": [
            {
                "name": c.output_name,
                "sourceColumn": c.column.name,
                "type": c.column.type.value,
                **(
                    {"precision": c.column.precision, "scale": c.column.scale}
                    if c.column.precision is not None
                    else {}
                ),
            }
            for c in query.columns
        ],
        "files": [
            {
                "name": f.name,
                "chunk": f.chunk_index,
                "part": f.part,
                "rows": f.rows,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
        "totalRows": sum(f.rows for f in files),
        "totalBytes": sum(f.bytes for f in files),
        # The snapshot: the export holds the matching rows with keys up to this mark.
        "snapshot": {"keyColumn": query.source.key_column, "highWaterMark": state.high_water_mark},
        **_key_range(state),
        "requestedAt": state.requested_at.isoformat(),
        "completedAt": completed_at.isoformat(),
        "notes": [note for f in files for note in f.notes],
    }


def _key_range(state: JobState) -> dict[str, Any]:
    """A schedule's incremental run names the keys it covers: above `after`, up to `through`."""
    if state.schedule is None or not state.schedule.incremental:
        return {}
    return {"keyRange": {"after": state.key_above, "through": state.high_water_mark}}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MANIFEST
    partial = target.with_name(target.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    publish(partial, target)
    return target
