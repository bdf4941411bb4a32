"""The mail an export sends, built (pure) from the job's outcome.

Subjects and recipients were checked at validation (no line breaks, plain addresses), and
EmailMessage refuses header values with line breaks as well: a request cannot add headers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from export_contract.models import ExportFile
from export_contract.request import EmailDelivery, ExportStatus
from extraction.formats import media_type


@dataclass(frozen=True)
class MailFacts:
    job_id: str
    export_name: str
    outcome: ExportStatus
    files: list[ExportFile]
    download_url: str | None
    expires_at: datetime | None
    error_message: str | None


def default_subject(facts: MailFacts) -> str:
    # The name came from the request; only its first line, and never a control character.
    name = "".join(c for c in facts.export_name.splitlines()[0] if c.isprintable())[:120]
    if facts.outcome is ExportStatus.COMPLETED:
        return f"Your export '{name}' is ready"
    if facts.outcome is ExportStatus.CANCELLED:
        return f"Your export '{name}' was cancelled"
    return f"Your export '{name}' failed"


def attachable(facts: MailFacts, settings: EmailDelivery) -> bool:
    total = sum(f.bytes for f in facts.files)
    return facts.outcome is ExportStatus.COMPLETED and total <= settings.max_attachment_size


def build_message(
    facts: MailFacts,
    settings: EmailDelivery,
    sender: str,
    read_file: Callable[[ExportFile], bytes],
) -> EmailMessage:
    """The whole mail; `read_file` is called only for files that will be attached."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = settings.subject or default_subject(facts)
    message["X-Export-Job-Id"] = facts.job_id
    attach = settings.attach_file and attachable(facts, settings)
    message.set_content(_body(facts, settings, attach))
    if attach:
        for file in facts.files:
            maintype, _, subtype = media_type(file.name).partition("/")
            message.add_attachment(
                read_file(file), maintype=maintype, subtype=subtype, filename=file.name
            )
    return message


def _body(facts: MailFacts, settings: EmailDelivery, attached: bool) -> str:
    lines = [f"Export: {facts.export_name}", f"Job: {facts.job_id}", ""]
    if facts.outcome is not ExportStatus.COMPLETED:
        verb = "was cancelled" if facts.outcome is ExportStatus.CANCELLED else "failed"
        lines.append(f"The export {verb}: {facts.error_message or 'no reason was given'}.")
        return "\n".join(lines) + "\n"
    rows = sum(f.rows for f in facts.files)
    size = sum(f.bytes for f in facts.files)
    lines.append(
        f"The export is ready: {rows:,} rows in {len(facts.files)} file(s), {size:,} bytes."
    )
    lines += [
        f"  {f.name}  {f.rows:,} rows  {f.bytes:,} bytes  sha256 {f.sha256}" for f in facts.files
    ]
    lines.append("")
    if settings.attach_file and attached:
        lines.append("The files are attached.")
    elif settings.attach_file:
        lines.append(
            f"The files are not attached: together they are {size:,} bytes, over the"
            f" {settings.max_attachment_size:,}-byte attachment limit. Use the link below."
        )
    if facts.download_url and (settings.include_link or not attached):
        expiry = f" (valid until {facts.expires_at.isoformat()})" if facts.expires_at else ""
        lines += ["", f"Download{expiry}:", facts.download_url]
    return "\n".join(lines) + "\n"
