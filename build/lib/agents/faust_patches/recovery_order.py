"""Faust's table recovery, with stream partitions sought back before they are resumed.

After a rebalance, faust-streaming 0.15.3 recovers the tables with the fetcher running, then
resumes the stream partitions and only then seeks them to their committed offsets. Records
fetched in that gap race the seek, and some are lost: commands sent while a worker started
were never handled, and the partition's commit stuck behind the first lost offset until the
next restart (reproduced by the restart test). Seeking while the partitions
are still paused closes the gap; it is the order faust-streaming#217 gave `_resume_streams`.
"""

from __future__ import annotations

import asyncio

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class SeekThenResumeRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Faust's own, but with the seek before the resume."""
        consumer = self.app.consumer
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if callbacks:
            await asyncio.wait(callbacks)
        assignment = consumer.assignment()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        self.completed.set()
        self.app.flow_control.resume()
        consumer.resume_flow()
        await self.app._fetcher.maybe_start()  # type: ignore[attr-defined]
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekThenResumeTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SeekThenResumeRecovery(
                self.app, self, beacon=self.beacon, loop=self.loop
            )
        return self._recovery
