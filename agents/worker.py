"""A worker, wired: the Faust app, the handlers registered on it, the task consumers, the
stall guard, lag and health. Everything is built here, from the settings, when a worker
starts; nothing in `agents/` builds a collaborator at import time."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from faust.types import TP, AppT

from agents.command_agent import CommandCollaborators, handle_command_topics
from agents.delivery_agent import DELIVERIES_AT_ONCE, Deliverer
from agents.diagnostics import install_state_dump
from agents.extractor_agent import CHUNKS_AT_ONCE, Extractor
from agents.faust_app import FaustApp, create_app
from agents.faust_patches.stall_guard import Stall, StallGuard
from agents.faust_patches.stall_watch import StallWatch
from agents.job_agent import JobCollaborators, handle_inbox
from agents.projection_agent import ReadModelProjector
from agents.quota_keeper import QuotaKeeper
from agents.readiness_watchdog import ReadinessWatchdog, UnreadyClock
from agents.retention_agent import SweepRequest, handle_sweep_request, sweep
from agents.runner import AgentRunner, Received, TaskHandler, Undecodable
from agents.schedule_agent import ScheduleCollaborators, ScheduleTopics, handle_schedule_inbox
from agents.schedule_ticks import TickRequest, handle_tick_request, tick
from agents.task_consumers import TaskConsumerService, delivery_tasks, extraction_tasks
from config import bootstrap
from config.settings import Settings
from config.topology import consumer_groups, partition_counts
from delivery.webhook_gate import webhook_problems
from extraction.planner import Planner
from observability.health import Check
from observability.health_server import HealthServer
from observability.lag import LagMonitor, LagReader

log = logging.getLogger(__name__)

# The worker exits with these codes, so that its supervisor starts a fresh one, when a
# partition stays stalled after every reread, or when it stays unready (a broker outage aside).
EXIT_STALLED = 3
EXIT_UNREADY = 4


@dataclass
class Worker:
    """The parts of a running worker that its health and tests look at."""

    faust: FaustApp
    runner: AgentRunner
    stall_watch: StallWatch
    extractors: TaskConsumerService
    deliverers: TaskConsumerService
    lag: LagMonitor
    # Started before the app (by the Faust worker), so that they answer during recovery.
    health: HealthServer | None = None
    lag_reader: LagReader | None = None
    watchdog: ReadinessWatchdog | None = None
    # Three rounds of the lag reader without an answer: the broker is taken for unreachable.
    kafka_silence_seconds: float = 15.0

    @property
    def app(self) -> AppT:
        return self.faust.app

    def services_before_app(self) -> list[Any]:
        """What the Faust worker starts ahead of the app: the probes, the lag reader behind
        their Kafka check, and the watchdog that reads them."""
        return [s for s in (self.health, self.lag_reader, self.watchdog) if s is not None]

    def live(self) -> Check:
        if self.stall_watch.gave_up:
            stalled = ", ".join(f"{s.tp.topic}[{s.tp.partition}]" for s in self.stall_watch.gave_up)
            return Check(False, {"partitions": f"stalled after every reread: {stalled}"})
        return Check(True, {"event_loop": "ok", "partitions": "ok"})

    def ready(self) -> Check:
        app: object = self.app
        checks = {
            "kafka": self._kafka(),
            "group": "ok" if _joined(app) else "not yet a member of the consumer group",
            "tables": "ok" if _recovered(app) else "table recovery not finished",
            "extractors": "ok" if self.extractors.assigned() else "not yet assigned",
            "deliverers": "ok" if self.deliverers.assigned() else "not yet assigned",
        }
        live = self.live()
        checks.update({k: v for k, v in live.checks.items() if v != "ok"})
        return Check(all(v == "ok" for v in checks.values()), checks)

    def kafka_unreachable(self) -> bool:
        """The broker answered the lag reader once and has been silent since: an outage.
        (A lag reader that never answered proves nothing about the broker.)"""
        silent = self._kafka_silent_for()
        return silent is not None and silent > self.kafka_silence_seconds

    def _kafka(self) -> str:
        """Whether the broker answered the lag reader lately: Faust and librdkafka retry on
        their own through an outage and say nothing a probe could read."""
        silent = self._kafka_silent_for()
        if silent is None:
            return "the broker has not answered yet"
        if silent > self.kafka_silence_seconds:
            return f"the broker has not answered for {silent:.0f} s"
        return "ok"

    def _kafka_silent_for(self) -> float | None:
        """Seconds since the lag reader's last answer, or None before its first."""
        updated = self.lag.updated_at()
        return None if updated is None else time.monotonic() - updated


def build_worker(settings: Settings, worker_id: str) -> Worker:
    c = bootstrap.build(settings)
    parts = create_app(settings, worker_id)
    app = parts.app
    guard = StallGuard(settings.stall_seconds, settings.stall_rereads)
    handed_over = _Forward()
    runner = AgentRunner(app, parts.topics, settings.dead_letter_topic, handed_over)

    command = CommandCollaborators(
        settings=settings,
        plan=Planner(settings.reader_database_url).plan,
        quota=QuotaKeeper(parts.quotas, c.limits, c.quota_read_model),
        output_location=c.store.output_location,
        webhook_problems=functools.partial(webhook_problems, settings.delivery_secrets_file),
    )
    runner.register(
        "command-agent",
        [settings.commands_topic, settings.quota_inbox_topic],
        functools.partial(handle_command_topics, c=command),
    )
    jobs = JobCollaborators(settings, parts.jobs, c.store, c.completion)
    runner.register(
        "job-agent", [settings.job_inbox_topic], functools.partial(handle_inbox, c=jobs)
    )
    runner.register(
        "projection-agent",
        [settings.events_topic],
        ReadModelProjector(settings.service_database_url),
    )
    runner.register(
        "sweep-agent",
        [settings.sweeps_topic],
        functools.partial(handle_sweep_request, settings=settings),
    )

    @app.timer(interval=settings.retention_sweep_seconds, on_leader=True)
    async def sweep_on_schedule() -> None:
        await runner.carry_out(await sweep(SweepRequest(as_of=datetime.now(UTC)), settings))

    _register_schedules(runner, settings, parts)

    @app.timer(interval=settings.schedule_tick_seconds, on_leader=True)
    async def tick_schedules() -> None:
        await runner.carry_out(await tick(TickRequest(as_of=datetime.now(UTC)), settings))

    extractors = TaskConsumerService(
        extraction_tasks(settings),
        _dead_lettering(runner, Extractor(c, runner.carry_out)),
        CHUNKS_AT_ONCE,
        f"extractor-{worker_id}",
        stop_seconds=20.0,
    )
    deliverers = TaskConsumerService(
        delivery_tasks(settings),
        _dead_lettering(runner, Deliverer(c, runner.carry_out)),
        DELIVERIES_AT_ONCE,
        f"deliverer-{worker_id}",
        # An attempt still waiting for its time is not committed: another member redoes it.
        stop_seconds=5.0,
    )
    lag = LagMonitor(
        settings.kafka_bootstrap_servers,
        consumer_groups(settings),
        partition_counts(settings),
        settings.lag_interval_seconds,
    )
    watch = StallWatch(
        app,
        guard,
        lambda: runner.watched_topics,
        runner.reader_busy_since,
        runner.longest_busy_since,
        runner.slow_handlers,
        lag.high_watermark,
        lambda: worker.kafka_unreachable(),
        settings.kafka_bootstrap_servers,
        _exit_stalled,
    )
    handed_over.to = watch.handed_over
    watch.install()
    install_state_dump(app)
    port = settings.worker_http_port + int(worker_id) - 1
    worker = Worker(parts, runner, watch, extractors, deliverers, lag)
    worker.kafka_silence_seconds = max(3 * settings.lag_interval_seconds, 15.0)
    worker.health = HealthServer(settings.worker_http_host, port, worker.live, worker.ready)
    worker.lag_reader = LagReader(lag)
    clock = UnreadyClock(settings.unready_seconds / 4, settings.unready_seconds)
    worker.watchdog = ReadinessWatchdog(
        worker.ready, worker.kafka_unreachable, clock, _exit_unready
    )
    for service in (extractors, deliverers):
        # Started once the tables are recovered, with the producer their reports go through.
        # Faust takes instances here as well as classes.
        app.service(cast(Any, service))

    @app.task
    async def start_readers() -> None:
        c.start()

    return worker


def _register_schedules(runner: AgentRunner, settings: Settings, parts: FaustApp) -> None:
    """The schedule agent (single writer of each schedule), its ticks and its projection."""
    topics = ScheduleTopics(schedules=settings.schedules_topic, commands=settings.commands_topic)
    schedules = ScheduleCollaborators(topics, parts.schedules)
    runner.register(
        "schedule-agent",
        [settings.schedule_inbox_topic],
        functools.partial(handle_schedule_inbox, c=schedules),
    )
    runner.register(
        "schedule-tick-agent",
        [settings.schedule_ticks_topic],
        functools.partial(handle_tick_request, settings=settings),
    )
    runner.register(
        "schedule-projection-agent",
        [settings.schedules_topic],
        ReadModelProjector.for_schedules(settings.service_database_url),
    )


class _Forward:
    """The runner reports handovers before the guard's watch exists; this passes them on."""

    def __init__(self) -> None:
        self.to: Callable[[TP, int], None] = lambda _tp, _offset: None

    def __call__(self, tp: TP, offset: int) -> None:
        self.to(tp, offset)


def _dead_lettering(runner: AgentRunner, handler: TaskHandler) -> TaskHandler:
    """A task consumer's handler that keeps a task it cannot read on the dead-letter topic."""

    async def handle(received: Received) -> None:
        try:
            await handler(received)
        except Undecodable as exc:
            await runner.dead_letter(received, str(exc), kind="undecodable")

    return handle


def _exit_stalled(stalls: list[Stall]) -> None:
    for stall in stalls:
        log.error(
            "%s[%d]: offset %d still not handed over after %d rereads; the worker exits so"
            " that a new one takes over",
            stall.tp.topic,
            stall.tp.partition,
            stall.owed,
            stall.tries,
        )
    _exit_for_a_fresh_start(EXIT_STALLED)


def _exit_unready(waiting_on: str, seconds: float) -> None:
    log.error(
        "not ready for %.0f s (%s); the worker exits so that a new one takes over",
        seconds,
        waiting_on,
    )
    _exit_for_a_fresh_start(EXIT_UNREADY)


def _exit_for_a_fresh_start(code: int) -> None:
    logging.shutdown()
    time.sleep(0.1)
    # Not a graceful stop: that would wait for the very agents that stand still. Tasks in
    # flight are uncommitted and redone by another member, as after a crash.
    os._exit(code)


def _joined(app: object) -> bool:
    consumer = getattr(app, "consumer", None)
    generation = getattr(app, "consumer_generation_id", 0)
    return consumer is not None and generation > 0 and not getattr(app, "rebalancing", True)


def _recovered(app: object) -> bool:
    tables = getattr(app, "tables", None)
    return tables is not None and tables.recovery.completed.is_set()
