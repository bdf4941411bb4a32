"""One delivery attempt: pick the method's way of delivering and run it.

Returns where the export went, or raises DeliveryError saying why not and whether another
attempt could succeed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from config.settings import Settings
from delivery import secrets
from delivery.failures import DeliveryError, permanent, transient
from delivery.mail_message import MailFacts, build_message
from delivery.to_webhook import WebhookPost, notice_body, post_notice
from delivery.webhook_gate import resolve_host
from domain.inbox import DeliverExport
from export_contract.models import ExportFile
from export_contract.request import DeliveryMethod
from extraction.manifest import MANIFEST
from stores.export_store import ExportStore, join


async def deliver(task: DeliverExport, settings: Settings, store: ExportStore) -> str:
    config = task.request.delivery
    method = task.request.delivery_method()
    if config is None:
        raise permanent("the request has no delivery settings")
    # Each method's client library is imported when first used (asyncssh alone is 15 MB).
    try:
        if method is DeliveryMethod.S3 and config.s3:
            from delivery.to_s3 import deliver_to_s3

            profile = secrets.s3_profile(
                settings.delivery_secrets_file, task.tenant_id, config.s3.profile
            )
            return await asyncio.to_thread(
                deliver_to_s3, store, config.s3, profile, _files_and_manifest(task)
            )
        if method is DeliveryMethod.SFTP and config.sftp:
            from delivery.to_sftp import deliver_over_sftp

            secret = secrets.sftp_secret(
                settings.delivery_secrets_file, task.tenant_id, config.sftp.secret
            )
            return await deliver_over_sftp(
                store, config.sftp, secret, settings.sftp_known_hosts, _files_and_manifest(task)
            )
        if method is DeliveryMethod.EMAIL and config.email:
            from delivery.by_email import send_mail

            sender = settings.smtp.sender if settings.smtp else "exports@localhost"
            message = await asyncio.to_thread(
                build_message, _mail_facts(task), config.email, sender, _reader(store)
            )
            return await send_mail(settings.smtp, message)
        if method is DeliveryMethod.WEBHOOK and config.webhook:
            return await post_notice(
                _webhook_post(task, settings),
                secrets.webhook_policy(settings.delivery_secrets_file, task.tenant_id),
                resolve_host,
            )
    except DeliveryError:
        raise
    except Exception as exc:  # an unforeseen failure is reported, and retried
        raise transient(f"{type(exc).__name__}: {exc}") from exc
    raise permanent(f"delivery.{method.value.lower()} is missing")


def _files_and_manifest(task: DeliverExport) -> list[tuple[str, str]]:
    return [(f.name, f.path) for f in task.files] + [
        (MANIFEST, join(task.output_location, MANIFEST))
    ]


def _webhook_post(task: DeliverExport, settings: Settings) -> WebhookPost:
    webhook = task.request.delivery.webhook if task.request.delivery else None
    if webhook is None or task.notice is None:
        raise permanent("the delivery task carries no webhook or notice")
    links = {
        "self": f"{settings.api_url.rstrip('/')}/v1/exports/{task.job_id}",
        "download": task.download_url,
    }
    notice = task.notice.model_dump(mode="json", by_alias=True)
    return WebhookPost(
        url=webhook.url,
        body=notice_body(notice, links),
        notice_id=task.job_id,
        signing_key=secrets.webhook_signing_key(
            settings.delivery_secrets_file, task.tenant_id, webhook.secret
        ),
    )


def _mail_facts(task: DeliverExport) -> MailFacts:
    return MailFacts(
        job_id=task.job_id,
        export_name=task.request.name,
        outcome=task.outcome,
        files=task.files,
        download_url=task.download_url,
        expires_at=task.expires_at,
        error_message=task.error_message,
    )


def _reader(store: ExportStore) -> Callable[[ExportFile], bytes]:
    def read(file: ExportFile) -> bytes:
        # Bounded by maxAttachmentSize (at most 25 MiB), checked before anything is read.
        with store.open(file.path) as source:
            return source.read()

    return read
