"""The public completion notice, built from a job's final state."""

from __future__ import annotations

from datetime import datetime

from domain.job import JobState
from export_contract.models import CompletionFile, ExportCompletionNotice


def completion_notice(state: JobState, occurred_at: datetime) -> ExportCompletionNotice:
    files = [
        CompletionFile(name=f.name, rows=f.rows, bytes=f.bytes, sha256=f.sha256)
        for f in state.files
    ]
    return ExportCompletionNotice(
        job_id=state.job_id,
        command_id=state.command_id,
        tenant_id=state.tenant_id,
        user_id=state.user_id,
        status=state.status,
        occurred_at=occurred_at,
        total_rows=state.total_rows if state.total_rows is not None else 0,
        files=files if state.status.value == "COMPLETED" else [],
        download_url=state.download_url,
        expires_at=state.expires_at,
        error_code=state.error_code,
        error_message=state.error_message,
        delivery_method=state.request.delivery_method().value,
        delivery_status=state.delivery_status,
        delivery_error=state.delivery_error,
    )
