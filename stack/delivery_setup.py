"""Writes what delivery needs on a development stack: SFTP keys, known hosts and the
per-tenant secrets file (EXPORT_DELIVERY_SECRETS). Used by scripts/stack.sh and by
docker-compose.yml; production supplies its own secrets file and known hosts.

    python stack/delivery_setup.py --keys DIR --known-hosts FILE --host-names A,B \\
        --secrets FILE --s3-endpoint URL --s3-key ID --s3-secret SECRET --tenants T1,T2 \\
        --webhook-key KEY --webhook-prefixes URL1,URL2 --webhooks-public-only T2

Every tenant may send webhooks over http to the given loopback prefixes (the stack's own
receiver, a test's), except those named by --webhooks-public-only, whose configuration
refuses private and loopback addresses as production's would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sftp_server import make_keys  # the sibling script, not a package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--known-hosts", type=Path, required=True)
    parser.add_argument("--host-names", required=True, help="known_hosts patterns, e.g. [h]:22")
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--s3-key", required=True)
    parser.add_argument("--s3-secret", required=True)
    parser.add_argument("--tenants", required=True)
    parser.add_argument("--webhook-key", required=True)
    parser.add_argument("--webhook-prefixes", required=True)
    parser.add_argument("--webhooks-public-only", default="")
    args = parser.parse_args()

    make_keys(args.keys)
    host_key = (args.keys / "host_key.pub").read_text().split()[:2]
    args.known_hosts.write_text(f"{args.host_names} {' '.join(host_key)}\n")

    profile = {
        "endpointUrl": args.s3_endpoint,
        "region": "us-east-1",
        "accessKeyId": args.s3_key,
        "secretAccessKey": args.s3_secret,
    }
    sftp = {
        "default": {"privateKeyFile": str(args.keys / "user_key")},
        "password": {"password": (args.keys / "user_password").read_text().strip()},
    }
    public_only = set(filter(None, args.webhooks_public_only.split(",")))
    tenants = {
        tenant: {
            "s3Profiles": {"default": profile},
            "sftpSecrets": sftp,
            "webhookSecrets": {"default": {"signingKey": args.webhook_key}},
            "webhooks": {
                "allowedUrlPrefixes": args.webhook_prefixes.split(","),
                "allowHttp": True,
                "allowPrivateAddresses": tenant not in public_only,
            },
        }
        for tenant in args.tenants.split(",")
    }
    args.secrets.write_text(json.dumps({"tenants": tenants}, indent=2) + "\n")
    args.secrets.chmod(0o600)


if __name__ == "__main__":
    main()
