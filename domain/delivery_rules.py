"""Checks of a request's delivery settings: where files may go, and what a mail may say.

Everything here guards a boundary: an S3 key or SFTP path that could climb out of its
folder, a host name that is not one, a recipient or subject that could smuggle a header.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

from domain.field_errors import FieldError
from domain.webhook_rules import URL_FIELD, url_shape_problem
from export_contract.request import DeliveryMethod, ExportRequest

MAX_RECIPIENTS = 50
SUBJECT_MAX = 200
# Attachments are read into the message, so their size is bounded here.
MAX_ATTACHMENT_BYTES = 25 << 20
PATH_MAX = 1024
# Bucket names as S3 defines them: 3-63 lowercase letters, digits, dots and hyphens.
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,4}$")
# Names of profiles and secrets in configuration.
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")
USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
# A plain addr-spec: no display name, quotes, comments, spaces or angle brackets.
ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
# C0 and C1 controls and Unicode's line and paragraph separators: Python's email package
# (str.splitlines) breaks a header at any of them, NEL (U+0085) included.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_delivery(request: ExportRequest) -> list[FieldError]:
    delivery = request.delivery
    method = request.delivery_method()
    if delivery is None or method is DeliveryMethod.DOWNLOAD:
        return []
    if method is DeliveryMethod.S3:
        if delivery.s3 is None:
            return [FieldError("delivery.s3", "required when delivery.method is S3")]
        s3 = delivery.s3
        return _check_s3(s3.bucket, s3.key, s3.region, s3.profile)
    if method is DeliveryMethod.SFTP:
        if delivery.sftp is None:
            return [FieldError("delivery.sftp", "required when delivery.method is SFTP")]
        sftp = delivery.sftp
        return _check_sftp(sftp.host, sftp.port, sftp.username, sftp.path, sftp.secret)
    if method is DeliveryMethod.WEBHOOK:
        if delivery.webhook is None:
            return [FieldError("delivery.webhook", "required when delivery.method is WEBHOOK")]
        return _check_webhook(delivery.webhook.url, delivery.webhook.secret)
    if delivery.email is None:
        return [FieldError("delivery.email", "required when delivery.method is EMAIL")]
    email = delivery.email
    return _check_email(email.recipients, email.subject, email.max_attachment_size)


def _check_s3(bucket: str, key: str, region: str | None, profile: str) -> list[FieldError]:
    errors = []
    if not BUCKET.match(bucket) or ".." in bucket:
        errors.append(
            FieldError(
                "delivery.s3.bucket",
                "not a valid bucket name (3-63 lowercase letters, digits, dots and hyphens)",
            )
        )
    problem = relative_path_problem(key)
    if problem:
        errors.append(FieldError("delivery.s3.key", problem))
    if region is not None and not REGION.match(region):
        errors.append(FieldError("delivery.s3.region", f"not a region name: {region[:40]!r}"))
    if not SECRET_NAME.match(profile):
        errors.append(FieldError("delivery.s3.profile", "not a profile name"))
    return errors


def _check_sftp(host: str, port: int, username: str, path: str, secret: str) -> list[FieldError]:
    errors = []
    if not HOST.match(host):
        errors.append(FieldError("delivery.sftp.host", "not a host name or IPv4 address"))
    if not 1 <= port <= 65535:
        errors.append(FieldError("delivery.sftp.port", "must be between 1 and 65535"))
    if not USERNAME.match(username):
        errors.append(
            FieldError("delivery.sftp.username", "letters, digits, '.', '_' and '-' only")
        )
    problem = path_problem(path.removeprefix("/"))
    if problem:
        errors.append(FieldError("delivery.sftp.path", problem))
    if not SECRET_NAME.match(secret):
        errors.append(FieldError("delivery.sftp.secret", "not a secret name"))
    return errors


def _check_webhook(url: str, secret: str) -> list[FieldError]:
    """The URL's shape; whether the tenant allows it is checked where the tenant is known."""
    errors = []
    problem = url_shape_problem(url)
    if problem:
        errors.append(FieldError(URL_FIELD, problem))
    if not SECRET_NAME.match(secret):
        errors.append(FieldError("delivery.webhook.secret", "not a secret name"))
    return errors


def _check_email(
    recipients: list[str], subject: str | None, max_attachment_size: int
) -> list[FieldError]:
    errors = []
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        errors.append(
            FieldError("delivery.email.recipients", f"between 1 and {MAX_RECIPIENTS} addresses")
        )
    for index, recipient in enumerate(recipients[:MAX_RECIPIENTS]):
        if not is_plain_address(recipient):
            errors.append(
                FieldError(
                    f"delivery.email.recipients[{index}]",
                    "not a plain e-mail address (name@domain, no display name or line breaks)",
                )
            )
    if subject is not None:
        if CONTROL.search(subject):
            errors.append(
                FieldError("delivery.email.subject", "must not contain line breaks or controls")
            )
        if len(subject) > SUBJECT_MAX:
            errors.append(FieldError("delivery.email.subject", f"at most {SUBJECT_MAX} characters"))
    if not 0 <= max_attachment_size <= MAX_ATTACHMENT_BYTES:
        errors.append(
            FieldError(
                "delivery.email.maxAttachmentSize",
                f"between 0 and {MAX_ATTACHMENT_BYTES} bytes (25 MiB)",
            )
        )
    return errors


def is_plain_address(text: str) -> bool:
    if not ADDRESS.match(text) or ".." in text:
        return False
    try:
        parsed = Address(addr_spec=text)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return parsed.addr_spec == text and "." in parsed.domain


def relative_path_problem(path: str) -> str | None:
    """Why `path` cannot be a prefix under a folder we write into, or None if it can."""
    if path.startswith("/") or path.startswith("\\"):
        return "must be relative (no leading '/')"
    return path_problem(path)


def path_problem(path: str) -> str | None:
    if len(path) > PATH_MAX:
        return f"at most {PATH_MAX} characters"
    if CONTROL.search(path):
        return "must not contain control characters"
    if "\\" in path:
        return "use '/' to separate folders"
    if any(part in (".", "..") for part in path.split("/")):
        return "must not contain '.' or '..' segments"
    return None
