"""What the job agent does with each inbox message: decide the events, then record them.

`decide` is pure: given the job's state and a message it returns event drafts. `record`
numbers the drafts (per-job sequence), wraps them in envelopes and folds them into the
state. Replaying a message against the state it already produced decides nothing, which
is what makes the job agent safe under Kafka's at-least-once delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain import delivery, inbox
from domain.job import JobState, apply
from domain.signed_links import ARCHIVE, make_link
from export_contract import models as ev
from export_contract.request import ExportStatus

Draft = tuple[type[ev.Event], dict[str, Any]]

# Event ids are derived, not random (as job ids are, in export_contract.ids), so that a
# decision replayed after a crash produces the very same ids.
EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "urn:export-service:event")
# May cancel any export of its tenant, not only its own.
ADMIN_ROLE = "exports:admin"


@dataclass(frozen=True)
class CompletionContext:
    """Where completed exports are kept and how they are addressed."""

    api_url: str
    store_dir: str
    retention: timedelta
    link_secret: str
    delivery_max_attempts: int = 5
    delivery_retry_seconds: float = 30.0


def decide(
    state: JobState | None, message: inbox.InboxMessage, ctx: CompletionContext, now: datetime
) -> list[Draft]:
    if isinstance(message, inbox.OpenJob):
        return [] if state is not None else _open(message)
    if isinstance(message, inbox.DeliveryAttempted):
        return _delivery_outcome(state, message, ctx, now)
    if isinstance(message, inbox.ExpireJob):
        return _expiry(state, message)
    if state is None or state.is_terminal:
        return []
    match message:
        case inbox.ChunkStarted():
            return _start(state)
        case inbox.ChunkProgress(chunk_index=index, rows=rows):
            if index in state.chunk_files or rows <= state.chunk_rows.get(index, 0):
                return []
            processed = state.processed_rows - state.chunk_rows.get(index, 0) + rows
            return _start(state) + [
                (
                    ev.ExportProgressed,
                    {"chunk_index": index, "chunk_rows": rows, "processed_rows": processed},
                )
            ]
        case inbox.ChunkDone(chunk_index=index, files=files):
            if index in state.chunk_files:
                return []
            stored = sum(f.bytes for f in state.files) + sum(f.bytes for f in files)
            if state.max_export_bytes is not None and stored > state.max_export_bytes:
                return [(ev.ExportFailed, too_large(state.max_export_bytes, stored))]
            compression = state.request.compression
            drafts = _start(state) + [
                (
                    ev.ChunkExtracted,
                    {"file": f, "compression": compression, "chunk_files": len(files)},
                )
                for f in files
            ]
            if all(c.index in state.chunk_files or c.index == index for c in state.chunks):
                everything = sorted([*state.files, *files], key=lambda f: (f.chunk_index, f.part))
                drafts.append(_completion(state, everything, ctx, now))
            return drafts
        case inbox.ChunkFailed() if message.chunk_index in state.chunk_files:
            return []  # another copy of the chunk (a redelivery) already finished it
        case inbox.ChunkFailed():
            reason = f"chunk {message.chunk_index} failed: {message.reason}"
            return [(ev.ExportFailed, {"code": message.code, "reason": reason})]
        case inbox.CancelRequested():
            if not may_cancel(state, message.tenant_id, message.user_id, message.roles):
                return []
            return [(ev.ExportCancelled, {"reason": message.reason})]
    return []


def record(
    state: JobState | None,
    drafts: list[Draft],
    owner: tuple[str, str],
    job_id: str,
    causation_id: str,
    now: datetime,
) -> tuple[JobState | None, list[ev.JobEvent]]:
    """Number and envelope the drafts, and fold them into the state."""
    events: list[ev.JobEvent] = []
    for cls, fields in drafts:
        sequence = (state.sequence if state else 0) + 1
        envelope = ev.Envelope(
            event_id=str(uuid5(EVENT_NAMESPACE, f"{job_id}:{sequence}")),
            job_id=job_id,
            tenant_id=owner[0],
            user_id=owner[1],
            sequence=sequence,
            occurred_at=now,
            causation_id=causation_id,
        )
        event: ev.JobEvent = cls(envelope=envelope, **fields)  # type: ignore[assignment]
        state = apply(state, event)
        events.append(event)
    return state, events


def _open(message: inbox.OpenJob) -> list[Draft]:
    requested = {
        "command_id": message.command_id,
        "request": message.request,
        "schedule": message.schedule,
    }
    drafts: list[Draft] = [(ev.ExportRequested, requested)]
    outcome = message.outcome
    if isinstance(outcome, inbox.Acceptance):
        drafts.append((ev.ExportAccepted, outcome.model_dump()))
    else:
        drafts.append((ev.ExportRejected, outcome.model_dump()))
    return drafts


def may_cancel(state: JobState, tenant_id: str, user_id: str, roles: list[str]) -> bool:
    """The requesting user, or an admin of the same tenant."""
    if tenant_id != state.tenant_id:
        return False
    return user_id == state.user_id or ADMIN_ROLE in roles


def too_large(limit: int, stored: int) -> dict[str, Any]:
    return {
        "code": "EXPORT_TOO_LARGE",
        "reason": f"the export passed its size limit of {limit:,} bytes ({stored:,} bytes stored)",
    }


def _expiry(state: JobState | None, message: inbox.ExpireJob) -> list[Draft]:
    if (
        state is None
        or state.status is not ExportStatus.COMPLETED
        or state.expires_at is None
        or state.expires_at > message.as_of
    ):
        return []
    when = state.expires_at.isoformat()
    return [(ev.ExportExpired, {"reason": f"the retention period ended at {when}"})]


def _delivery_outcome(
    state: JobState | None, message: inbox.DeliveryAttempted, ctx: CompletionContext, now: datetime
) -> list[Draft]:
    # Only the attempt the job is waiting for counts: a redelivered report is a duplicate.
    if (
        state is None
        or state.delivery_status != delivery.PENDING
        or message.attempt != state.delivery_attempts + 1
    ):
        return []
    if message.delivered:
        return [
            (
                ev.ExportDelivered,
                {
                    "method": message.method,
                    "attempt": message.attempt,
                    "destination": message.destination,
                },
            )
        ]
    retry_at = delivery.next_attempt_at(
        message.attempt,
        message.permanent,
        ctx.delivery_max_attempts,
        ctx.delivery_retry_seconds,
        now,
    )
    return [
        (
            ev.DeliveryFailed,
            {
                "method": message.method,
                "attempt": message.attempt,
                "reason": message.reason or "unknown failure",
                "permanent": message.permanent,
                "next_attempt_at": retry_at,
            },
        )
    ]


def _start(state: JobState) -> list[Draft]:
    return [(ev.ExportStarted, {})] if state.status is ExportStatus.QUEUED else []


def _completion(
    state: JobState, ordered: list[ev.ExportFile], ctx: CompletionContext, now: datetime
) -> Draft:
    retention = timedelta(days=state.retention_days) if state.retention_days else ctx.retention
    expires_at = now + retention
    # One file: a link to it; several: a link to all of them as one ZIP.
    target = ordered[0].name if len(ordered) == 1 else ARCHIVE
    link = make_link(
        ctx.api_url,
        ctx.link_secret,
        state.tenant_id,
        state.job_id,
        target,
        int(expires_at.timestamp()),
    )
    return (
        ev.ExportCompleted,
        {
            "total_rows": sum(f.rows for f in ordered),
            "total_bytes": sum(f.bytes for f in ordered),
            "files": ordered,
            "output_path": state.output_location
            or f"{ctx.store_dir}/{state.tenant_id}/{state.job_id}",
            "download_url": link,
            "expires_at": expires_at,
        },
    )
