"""Quota limits as an event stream: every change is a record on export.limits, keyed by
tenant or tenant:user, read whole by every worker and the API. Changes apply within moments,
without a restart, and the topic (never compacted, kept forever) is their history.

    python -m agents.limits set --tenant T [--user U] --max-concurrent-exports 5 ...
    python -m agents.limits show --tenant T [--user U]
"""

from __future__ import annotations

import argparse
import sys

from config.settings import Settings
from domain.quota import LimitsOverride
from projections.limits_book import LimitsBook, publish_override


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["set", "show"])
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--user")
    parser.add_argument("--changed-by", default="operator")
    for name in LimitsOverride.model_fields:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    args = parser.parse_args()
    settings = Settings.from_env()
    if args.action == "set":
        given = {n: getattr(args, n) for n in LimitsOverride.model_fields if getattr(args, n)}
        override = LimitsOverride.model_validate(given)
        publish_override(settings, args.tenant, args.user, override, args.changed_by)
    book = LimitsBook(settings)
    book.wait_until_loaded()
    limits = book.for_user(args.tenant, args.user) if args.user else book.for_tenant(args.tenant)
    print(limits.model_dump_json(by_alias=True, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
