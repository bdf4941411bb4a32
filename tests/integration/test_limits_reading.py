"""A copy of the limits topic shows a change acknowledged a moment ago, on the real broker."""

from __future__ import annotations

import uuid

from config.settings import Settings
from domain.quota import LimitsOverride
from projections.limits_book import LimitsBook, publish_override


def test_a_change_is_seen_by_the_next_question_once_the_copy_is_current(
    settings: Settings,
) -> None:
    book = LimitsBook(settings)
    assert book.wait_until_loaded(30)
    for concurrent in range(1, 21):
        tenant = f"reading-{uuid.uuid4()}"
        override = LimitsOverride(max_concurrent_exports=concurrent)
        publish_override(settings, tenant, None, override, changed_by="tests")
        assert book.wait_until_current(10)
        assert book.for_tenant(tenant).max_concurrent_exports == concurrent
