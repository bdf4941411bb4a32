"""Time-limited download links signed with HMAC: anyone holding one can fetch one file (or
the export's ZIP) until it expires, without a token; changing any part of it breaks it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlencode

# The name a link uses for the whole export as one ZIP.
ARCHIVE = "export.zip"


class LinkInvalid(Exception):
    """The signature does not match: the link was altered or not made by us."""


class LinkExpired(Exception):
    """The link was genuine but its time is up."""


def signature(secret: str, tenant_id: str, job_id: str, file_name: str, expires: int) -> str:
    message = f"{tenant_id}\n{job_id}\n{file_name}\n{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_link(
    api_url: str, secret: str, tenant_id: str, job_id: str, file_name: str, expires: int
) -> str:
    query = urlencode(
        {
            "tenant": tenant_id,
            "expires": expires,
            "signature": signature(secret, tenant_id, job_id, file_name, expires),
        }
    )
    return f"{api_url}/v1/links/{job_id}/{quote(file_name)}?{query}"


def check(
    secret: str, tenant_id: str, job_id: str, file_name: str, expires: int, given: str, now: float
) -> None:
    """Raise LinkInvalid for an altered link, LinkExpired for an old one."""
    expected = signature(secret, tenant_id, job_id, file_name, expires)
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link can hold any.
    if not hmac.compare_digest(expected.encode(), given.encode(errors="replace")):
        raise LinkInvalid(f"the link to {file_name} is not valid")
    if now >= expires:
        raise LinkExpired(f"the link to {file_name} expired")
