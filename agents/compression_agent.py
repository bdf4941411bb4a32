"""Compression agent: compresses each extracted chunk of exports that asked for it.

It follows export.events, so one chunk is compressed while the next is still being
extracted; the work runs in a thread, and the result goes to the job agent's inbox.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from uuid import uuid4

import faust

from agents.app import app, events_topic, job_inbox_topic
from agents.sending import send_acked
from domain import inbox
from events import codec
from events.models import ChunkExtracted, ExportFile
from extraction.compressor import compress_file

log = logging.getLogger(__name__)


@app.agent(events_topic)
async def compression_agent(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        try:
            event = codec.decode(value)
        except codec.UndecodableMessage:
            continue  # the projection agent logs undecodable events
        if not isinstance(event, ChunkExtracted) or event.compression == "NONE":
            continue
        try:
            await compress(event)
        except Exception as exc:  # report the failure, keep the agent
            log.exception("compressing %s failed", event.file.path)
            await _report(
                inbox.ChunkFailed(
                    job_id=event.envelope.job_id,
                    message_id=str(uuid4()),
                    chunk_index=event.file.chunk_index,
                    code="COMPRESSION_FAILED",
                    reason=f"{type(exc).__name__}: {exc}",
                )
            )


async def compress(event: ChunkExtracted) -> None:
    plain = event.file
    done = await asyncio.to_thread(compress_file, Path(plain.path), event.compression, plain.rows)
    file = ExportFile(
        chunk_index=plain.chunk_index,
        name=done.path.name,
        path=str(done.path),
        rows=plain.rows,
        bytes=done.bytes,
        sha256=done.sha256,
        notes=plain.notes,
    )
    await _report(
        inbox.ChunkCompressedReport(
            job_id=event.envelope.job_id,
            message_id=str(uuid4()),
            file=file,
            uncompressed_bytes=plain.bytes,
        )
    )
    log.info("compressed %s: %d -> %d bytes", plain.name, plain.bytes, done.bytes)


async def _report(message: inbox.InboxMessage) -> None:
    await send_acked(job_inbox_topic, message.job_id, inbox.encode_inbox(message))
