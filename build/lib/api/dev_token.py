"""Mint a development JWT: `python -m api.dev_token --tenant T --user U [--role R ...]`.

Signed with EXPORT_JWT_SECRET (its development default unless set); for local use only.
"""

from __future__ import annotations

import argparse
import time

import jwt

from config.settings import Settings

DEMO_TENANTS = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
)
DEMO_USER = "0d0d0d0d-0000-4000-8000-000000000001"


def mint(
    tenant_id: str,
    user_id: str,
    roles: list[str] | None = None,
    secret: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "tenant_id": tenant_id,
        "roles": roles if roles is not None else ["exports:create", "exports:read"],
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret or Settings.from_env().jwt_secret, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", default=DEMO_TENANTS[0])
    parser.add_argument("--user", default=DEMO_USER)
    parser.add_argument("--role", action="append", dest="roles")
    args = parser.parse_args()
    print(mint(args.tenant, args.user, args.roles))


if __name__ == "__main__":
    main()
