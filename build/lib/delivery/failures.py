"""Delivery failures, each one either worth retrying (transient) or not (permanent)."""

from __future__ import annotations


class DeliveryError(Exception):
    """An attempt failed; `permanent` says that another attempt cannot succeed."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def permanent(reason: str) -> DeliveryError:
    return DeliveryError(reason, permanent=True)


def transient(reason: str) -> DeliveryError:
    return DeliveryError(reason, permanent=False)


def network_failure(exc: BaseException, where: str) -> DeliveryError | None:
    """Refused connections, resets and timeouts: the server may be back soon."""
    if isinstance(exc, TimeoutError):
        return transient(f"{where} timed out")
    if isinstance(exc, ConnectionRefusedError):
        return transient(f"{where} refused the connection")
    if isinstance(exc, ConnectionError):
        return transient(f"{where}: connection lost ({exc})")
    if isinstance(exc, OSError):
        return transient(f"{where}: {exc.strerror or exc}")
    return None
