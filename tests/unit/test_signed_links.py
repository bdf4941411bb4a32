"""Signed links open until they expire, and not at all once any part is changed."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from domain.signed_links import LinkExpired, LinkInvalid, check, make_link, signature

SECRET = "s" * 32
TENANT, JOB, FILE, EXPIRES = "t-1", "j-1", "part-00001.csv", 2_000_000_000


def test_a_fresh_link_checks_out() -> None:
    link = urlparse(make_link("http://api", SECRET, TENANT, JOB, FILE, EXPIRES))
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert link.path == f"/v1/links/{JOB}/{FILE}"
    check(
        SECRET,
        query["tenant"],
        JOB,
        FILE,
        int(query["expires"]),
        query["signature"],
        now=EXPIRES - 1,
    )


@pytest.mark.parametrize(
    ("tenant", "job", "file", "expires", "secret"),
    [
        ("t-2", JOB, FILE, EXPIRES, SECRET),
        (TENANT, "j-2", FILE, EXPIRES, SECRET),
        (TENANT, JOB, "part-00002.csv", EXPIRES, SECRET),
        (TENANT, JOB, FILE, EXPIRES + 3600, SECRET),
        (TENANT, JOB, FILE, EXPIRES, "x" * 32),
    ],
)
def test_changing_any_part_breaks_the_link(
    tenant: str, job: str, file: str, expires: int, secret: str
) -> None:
    given = signature(SECRET, TENANT, JOB, FILE, EXPIRES)
    with pytest.raises(LinkInvalid):
        check(secret, tenant, job, file, expires, given, now=0)


def test_an_old_link_has_expired() -> None:
    given = signature(SECRET, TENANT, JOB, FILE, EXPIRES)
    with pytest.raises(LinkExpired):
        check(SECRET, TENANT, JOB, FILE, EXPIRES, given, now=EXPIRES)


def test_a_signature_with_any_characters_is_just_invalid() -> None:
    import pytest

    from domain.signed_links import LinkInvalid, check

    with pytest.raises(LinkInvalid):
        check("secret", "t", "j", "f", 10, "\x11\u00e9\U0001f600", now=0)
