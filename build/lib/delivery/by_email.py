"""EMAIL delivery with aiosmtplib: STARTTLS whenever the server offers it, the certificate
checked (against a private CA when one is configured), login when credentials are set."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from config.settings import SmtpSettings
from delivery.failures import network_failure, permanent, transient

TIMEOUT = 30


async def send_mail(smtp: SmtpSettings | None, message: EmailMessage) -> str:
    """Send the message; return the recipients it went to."""
    if smtp is None:
        raise permanent("no SMTP server is configured (EXPORT_SMTP_HOST)")
    where = f"SMTP server {smtp.host}:{smtp.port}"
    tls = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        timeout=TIMEOUT,
        tls_context=tls,
        # None: upgrade with STARTTLS when the server offers it.
        start_tls=None,
        username=smtp.username,
        password=smtp.password,
    )
    try:
        async with client:
            refused, _ = await client.send_message(message)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise permanent(f"{where} refused the login ({exc.code})") from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise permanent(f"{where} refused every recipient: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        failure = transient if 400 <= exc.code < 500 else permanent
        raise failure(f"{where} answered {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise transient(f"{where} could not be reached: {exc}") from exc
    except aiosmtplib.SMTPException as exc:
        raise transient(f"{where}: {exc}") from exc
    except OSError as exc:
        raise network_failure(exc, where) or transient(str(exc)) from exc
    if refused:
        # Some recipients were refused but others accepted it: delivered, say which failed.
        return f"{message['To']} (refused: {', '.join(refused)})"
    return str(message["To"])
