"""The answer of a health probe: whether the process is fit, and each check's verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OK = "ok"


@dataclass(frozen=True)
class Check:
    """`checks` maps each check's name to "ok" or a sentence saying what is wrong."""

    ok: bool
    checks: dict[str, str]

    @classmethod
    def of(cls, checks: Mapping[str, str]) -> Check:
        """Fit when every check says "ok"."""
        return cls(all(verdict == OK for verdict in checks.values()), dict(checks))

    @property
    def status_code(self) -> int:
        return 200 if self.ok else 503

    def body(self) -> dict[str, object]:
        """`{"status": "ok" | "unavailable", "checks": {...}}`, as every probe answers."""
        return {"status": OK if self.ok else "unavailable", "checks": dict(self.checks)}
