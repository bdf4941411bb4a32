"""The stall guard's rules, with offsets and times replayed as a worker would see them."""

from __future__ import annotations

from faust.types import TP

from agents.faust_patches.stall_guard import Reread, StallGuard, Verdict

COMMANDS = TP("export.commands", 3)
INBOX = TP("export.job-inbox", 2)
STALL_SECONDS = 10.0


def guard_at(tp: TP, committed: int, max_rereads: int = 3) -> StallGuard:
    guard = StallGuard(STALL_SECONDS, max_rereads)
    guard.assigned([tp], {tp: committed}, now=0.0)
    return guard


def hand_over(guard: StallGuard, tp: TP, offsets: range | list[int], now: float) -> None:
    for offset in offsets:
        guard.handed_over(tp, offset, now)


def check(
    guard: StallGuard, now: float, tp: TP, high: int | None, done: int | None, idle: bool = True
) -> Verdict:
    return guard.check(now, {tp: high}, {tp: done}, lambda _tp: idle)


def test_an_idle_partition_without_lag_is_left_alone() -> None:
    guard = guard_at(COMMANDS, 25)
    for second in range(0, 120, 1):
        verdict = check(guard, float(second), COMMANDS, high=25, done=25)
        assert verdict == Verdict([], [], [])


def test_messages_in_order_need_nothing() -> None:
    guard = guard_at(INBOX, 305)
    hand_over(guard, INBOX, range(305, 351), now=1.0)
    assert check(guard, 30.0, INBOX, high=351, done=351) == Verdict([], [], [])


def test_a_waiting_message_that_never_comes_is_read_again_after_the_interval() -> None:
    # As in the stuck demo: committed 25, high-water mark 26, nothing handed over.
    guard = guard_at(COMMANDS, 25)
    assert check(guard, 1.0, COMMANDS, high=26, done=25).rereads == []  # the clock starts
    assert check(guard, 10.5, COMMANDS, high=26, done=25).rereads == []
    verdict = check(guard, 11.0, COMMANDS, high=26, done=25)
    assert verdict.rereads == [Reread(COMMANDS, 25)]
    assert [(s.reason, s.owed, s.highwater) for s in verdict.detected] == [("stalled", 25, 26)]


def test_a_stall_heals_when_the_owed_offset_arrives_and_is_reported_once() -> None:
    guard = guard_at(COMMANDS, 25)
    check(guard, 1.0, COMMANDS, high=26, done=25)
    assert check(guard, 11.0, COMMANDS, high=26, done=25).rereads
    guard.handed_over(COMMANDS, 25, now=11.4)
    [healed] = guard.healed()
    assert (healed.tp, healed.offset) == (COMMANDS, 25)
    assert abs(healed.seconds - 0.4) < 1e-9
    assert guard.healed() == []
    assert check(guard, 40.0, COMMANDS, high=26, done=26) == Verdict([], [], [])


def test_a_busy_agent_is_never_stalled() -> None:
    # The command agent plans a large export for a minute; commands wait meanwhile.
    guard = guard_at(COMMANDS, 25)
    for second in range(1, 61):
        assert check(guard, float(second), COMMANDS, high=40, done=25, idle=False).rereads == []
    # Idle again: the interval starts from there.
    assert check(guard, 65.0, COMMANDS, high=40, done=25).rereads == []
    assert check(guard, 76.0, COMMANDS, high=40, done=25).rereads == [Reread(COMMANDS, 25)]


def test_rereads_that_bring_nothing_are_tried_again_then_the_guard_gives_up() -> None:
    guard = guard_at(COMMANDS, 25, max_rereads=3)
    check(guard, 0.0, COMMANDS, high=26, done=25)
    tries = []
    now = 0.0
    while not (verdict := check(guard, now, COMMANDS, high=26, done=25)).gave_up:
        tries += verdict.rereads
        now += 1.0
        assert now < 100, "the guard never gave up"
    assert tries == [Reread(COMMANDS, 25)] * 3
    assert [(s.tp, s.owed, s.tries) for s in verdict.gave_up] == [(COMMANDS, 25, 3)]
    assert now == 40.0  # three rereads ten seconds apart, then ten more seconds


def test_a_commit_past_the_last_message_handled_is_read_again_at_once() -> None:
    # As in CI: 305..330 handled, 331..350 acknowledged by Faust and never handed over.
    guard = guard_at(INBOX, 305)
    hand_over(guard, INBOX, range(305, 331), now=1.0)
    verdict = check(guard, 2.0, INBOX, high=351, done=351)
    assert verdict.rereads == [Reread(INBOX, 331)]
    assert verdict.detected[0].reason == "committed past"
    hand_over(guard, INBOX, range(331, 351), now=2.5)
    assert [h.offset for h in guard.healed()] == [331]
    assert check(guard, 30.0, INBOX, high=351, done=351) == Verdict([], [], [])


def test_a_gap_between_messages_is_read_again_once_and_the_copies_heal_it() -> None:
    # As in the restart test: 3431..3434 skipped, later ones handed over first.
    guard = guard_at(COMMANDS, 3400)
    hand_over(guard, COMMANDS, range(3400, 3431), now=1.0)
    hand_over(guard, COMMANDS, range(3435, 3440), now=1.0)
    verdict = check(guard, 2.0, COMMANDS, high=3440, done=3431)
    assert verdict.rereads == [Reread(COMMANDS, 3431)]
    # Events fetched before the seek still arrive first; they are not a new gap.
    hand_over(guard, COMMANDS, range(3440, 3442), now=2.1)
    hand_over(guard, COMMANDS, range(3431, 3442), now=2.2)
    assert [h.offset for h in guard.healed()] == [3431]
    assert check(guard, 20.0, COMMANDS, high=3442, done=3442) == Verdict([], [], [])


def test_partitions_given_away_are_forgotten_and_new_ones_start_at_their_commit() -> None:
    guard = guard_at(COMMANDS, 25)
    guard.assigned([INBOX], {INBOX: 7}, now=5.0)
    assert guard.seconds_since_handover(6.0) == {INBOX: 1.0}
    check(guard, 6.0, INBOX, high=8, done=7)
    assert check(guard, 16.0, INBOX, high=8, done=7).rereads == [Reread(INBOX, 7)]


def test_a_partition_with_no_commit_is_watched_from_its_first_message() -> None:
    guard = StallGuard(STALL_SECONDS, 3)
    guard.assigned([COMMANDS], {}, now=0.0)
    assert check(guard, 30.0, COMMANDS, high=5, done=None).rereads == []
    guard.handed_over(COMMANDS, 0, now=31.0)
    check(guard, 32.0, COMMANDS, high=5, done=None)
    assert check(guard, 42.0, COMMANDS, high=5, done=None).rereads == [Reread(COMMANDS, 1)]


def test_without_a_baseline_faust_s_own_commit_is_the_offset_owed() -> None:
    guard = StallGuard(STALL_SECONDS, 3)
    guard.assigned([COMMANDS], {}, now=0.0)
    check(guard, 1.0, COMMANDS, high=26, done=25)
    assert check(guard, 11.0, COMMANDS, high=26, done=25).rereads == [Reread(COMMANDS, 25)]


def test_time_without_a_broker_does_not_count_towards_a_stall() -> None:
    guard = guard_at(COMMANDS, 25)
    check(guard, 1.0, COMMANDS, high=26, done=25)
    guard.restart_clocks()  # the broker was unreachable until now
    assert check(guard, 30.0, COMMANDS, high=26, done=25).rereads == []
    assert check(guard, 40.0, COMMANDS, high=26, done=25).rereads == [Reread(COMMANDS, 25)]
