"""Delivery policy, pure: which finished jobs are delivered, and when a failed attempt is retried.

DOWNLOAD needs no delivery (the link is the delivery). S3 and SFTP deliver the files of a
completed export. EMAIL mails every outcome: the files or link when it completed, a short
failure or cancellation note otherwise; WEBHOOK posts every outcome's completion notice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from export_contract.request import DeliveryMethod, ExportRequest, ExportStatus

PENDING = "PENDING"
DELIVERED = "DELIVERED"
FAILED = "FAILED"

# No wait between attempts grows past this, however many attempts are configured.
MAX_BACKOFF = timedelta(minutes=15)


def delivery_due(request: ExportRequest, outcome: ExportStatus) -> bool:
    method = request.delivery_method()
    if method in (DeliveryMethod.EMAIL, DeliveryMethod.WEBHOOK):
        return outcome in (ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED)
    if method in (DeliveryMethod.S3, DeliveryMethod.SFTP):
        return outcome is ExportStatus.COMPLETED
    return False


def next_attempt_at(
    attempt: int, permanent: bool, max_attempts: int, base_seconds: float, now: datetime
) -> datetime | None:
    """When attempt `attempt + 1` runs after attempt `attempt` failed; None: no more attempts.

    Exponential backoff: base, 2 x base, 4 x base, ... capped at MAX_BACKOFF.
    """
    if permanent or attempt >= max_attempts:
        return None
    wait = min(timedelta(seconds=base_seconds * 2 ** (attempt - 1)), MAX_BACKOFF)
    return now + wait
