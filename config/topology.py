"""What the service's Kafka looks like: every topic with its partitions, and every consumer
group with the topics it reads. Declared once here, for the topic tool, the workers and the
API (which shows every group's lag)."""

from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Settings

# The Faust app's id, which is also its consumer group.
APP_GROUP = "export-service"
EXTRACTORS_GROUP = "export-extractors"
DELIVERERS_GROUP = "export-deliverers"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
KEEP_A_DAY = {"retention.ms": str(24 * 3600 * 1000)}


def service_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic the service reads or writes; co-partitioned topics share a count."""
    p = settings.partitions
    return [
        TopicSpec(settings.commands_topic, p),
        TopicSpec(settings.events_topic, p),
        TopicSpec(settings.job_inbox_topic, p),
        TopicSpec(settings.tasks_topic, p),
        TopicSpec(settings.completions_topic, p),
        TopicSpec(settings.deliveries_topic, p),
        # Keyed tenant:user like the commands, so one partition owns a user's quota.
        TopicSpec(settings.quota_inbox_topic, p),
        # Read whole by every process (projections/replicated_view.py): one partition each.
        TopicSpec(settings.limits_topic, 1, KEEP_FOREVER),
        TopicSpec(settings.stops_topic, 1, KEEP_A_DAY),
        TopicSpec(settings.sweeps_topic, 1),
        # Each schedule's event log, kept like a job's; its inbox is keyed by schedule id.
        TopicSpec(settings.schedules_topic, p, KEEP_FOREVER),
        TopicSpec(settings.schedule_inbox_topic, p),
        TopicSpec(settings.schedule_ticks_topic, 1),
        TopicSpec(settings.dead_letter_topic, 1),
    ]


def partition_counts(settings: Settings) -> dict[str, int]:
    return {spec.name: spec.partitions for spec in service_topics(settings)}


def consumer_groups(settings: Settings) -> dict[str, list[str]]:
    """Each group and the topics it reads: the Faust agents' (the topics the worker's
    runner registers, checked by a test) and the task consumers'."""
    return {
        APP_GROUP: sorted(
            [
                settings.commands_topic,
                settings.quota_inbox_topic,
                settings.job_inbox_topic,
                settings.events_topic,
                settings.sweeps_topic,
                settings.schedule_inbox_topic,
                settings.schedule_ticks_topic,
                settings.schedules_topic,
            ]
        ),
        EXTRACTORS_GROUP: [settings.tasks_topic],
        DELIVERERS_GROUP: [settings.deliveries_topic],
    }
