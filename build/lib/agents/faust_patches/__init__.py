"""Where the service corrects faust-streaming 0.15.3, all in one place.

- `recovery_order`: after table recovery, stream partitions are sought to their commits
  before they are resumed (Faust resumes first, and messages fetched meanwhile were lost).
- `stall_guard` and `stall_watch`: a partition whose messages are not handed to its agent
  (skipped, committed past, or waiting while the agent idles) is read again from the offset
  owed; when that does not help, the worker exits so that its supervisor starts a new one.

`app_options` goes into the Faust app's constructor; `StallWatch.install` wires the guard.
"""

from __future__ import annotations

from typing import Any

from agents.faust_patches.recovery_order import SeekThenResumeTableManager


def app_options() -> dict[str, Any]:
    return {"TableManager": SeekThenResumeTableManager}
