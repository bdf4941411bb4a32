"""Credentials for delivery, resolved by name from the service's configuration file.

A request names a profile or secret (`delivery.s3.profile`, `delivery.sftp.secret`); the
credentials stay here, per tenant, so one tenant can never use another's. The file
(EXPORT_DELIVERY_SECRETS) is JSON:

    {"tenants": {"<tenant id>": {
        "s3Profiles": {"default": {"endpointUrl": ..., "region": ..., "accessKeyId": ...,
                                   "secretAccessKey": ...}},
        "sftpSecrets": {"default": {"privateKeyFile": ..., "passphrase": ...},
                        "other": {"password": ...}},
        "webhookSecrets": {"default": {"signingKey": ...}},
        "webhooks": {"allowedUrlPrefixes": ["https://hooks.example.com/exports"],
                     "allowHttp": false, "allowPrivateAddresses": false}}}}

It is read at each attempt, so rotating a credential needs no restart. A tenant without a
"webhooks" entry may not use webhooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery.failures import DeliveryError, permanent
from domain.webhook_rules import WebhookPolicy

SECTION_KINDS = {
    "s3Profiles": "S3 profile",
    "sftpSecrets": "SFTP secret",
    "webhookSecrets": "webhook signing secret",
}


@dataclass(frozen=True)
class S3Profile:
    endpoint_url: str | None
    region: str | None
    access_key_id: str | None
    secret_access_key: str | None


@dataclass(frozen=True)
class SftpSecret:
    private_key_file: str | None
    passphrase: str | None
    password: str | None


def _tenant_config(path: Path | None, tenant_id: str) -> dict[str, Any]:
    if path is None:
        raise permanent("no delivery secrets are configured (EXPORT_DELIVERY_SECRETS)")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"the delivery secrets cannot be read: {exc}", permanent=False) from exc
    tenant = config.get("tenants", {}).get(tenant_id, {}) if isinstance(config, dict) else {}
    return tenant if isinstance(tenant, dict) else {}


def _tenant_section(path: Path | None, tenant_id: str, section: str, name: str) -> dict[str, Any]:
    entry = _tenant_config(path, tenant_id).get(section, {}).get(name)
    if not isinstance(entry, dict):
        raise permanent(f"no {SECTION_KINDS[section]} named {name!r} is configured for this tenant")
    return entry


def s3_profile(path: Path | None, tenant_id: str, name: str) -> S3Profile:
    entry = _tenant_section(path, tenant_id, "s3Profiles", name)
    return S3Profile(
        endpoint_url=entry.get("endpointUrl"),
        region=entry.get("region"),
        access_key_id=entry.get("accessKeyId"),
        secret_access_key=entry.get("secretAccessKey"),
    )


def sftp_secret(path: Path | None, tenant_id: str, name: str) -> SftpSecret:
    entry = _tenant_section(path, tenant_id, "sftpSecrets", name)
    return SftpSecret(
        private_key_file=entry.get("privateKeyFile"),
        passphrase=entry.get("passphrase"),
        password=entry.get("password"),
    )


def webhook_signing_key(path: Path | None, tenant_id: str, name: str) -> bytes:
    key = _tenant_section(path, tenant_id, "webhookSecrets", name).get("signingKey")
    if not isinstance(key, str) or not key:
        raise permanent(f"the webhook signing secret {name!r} has no signingKey")
    return key.encode()


def webhook_policy(path: Path | None, tenant_id: str) -> WebhookPolicy:
    """The tenant's webhook settings; none configured (or no file): no webhook allowed."""
    try:
        entry = _tenant_config(path, tenant_id).get("webhooks")
    except DeliveryError:
        return WebhookPolicy()
    if not isinstance(entry, dict):
        return WebhookPolicy()
    prefixes = entry.get("allowedUrlPrefixes", [])
    return WebhookPolicy(
        allowed_url_prefixes=tuple(p for p in prefixes if isinstance(p, str)),
        allow_http=entry.get("allowHttp") is True,
        allow_private_addresses=entry.get("allowPrivateAddresses") is True,
    )
