"""The ledger notices messages Faust never handed to an agent, and says where to read again."""

from __future__ import annotations

from faust.types import TP

from agents.offset_ledger import MAX_REREADS, OffsetLedger, Reread

INBOX = TP("export.job-inbox", 2)
EVENTS = TP("export.events", 0)


def ledger_at(tp: TP, committed: int) -> OffsetLedger:
    ledger = OffsetLedger()
    ledger.assigned([tp], {tp: committed})
    return ledger


def handle(ledger: OffsetLedger, tp: TP, offsets: range | list[int]) -> None:
    for offset in offsets:
        ledger.handled(tp, offset)


def test_messages_in_order_need_nothing() -> None:
    ledger = ledger_at(INBOX, 305)
    handle(ledger, INBOX, range(305, 351))
    assert ledger.rereads({INBOX: 351}) == []


def test_a_commit_past_the_last_message_handled_is_read_again() -> None:
    # As in CI: 305..330 handled, 331..350 acknowledged by Faust and never handed over.
    ledger = ledger_at(INBOX, 305)
    handle(ledger, INBOX, range(305, 331))
    assert ledger.rereads({INBOX: 351}) == [Reread(INBOX, 331)]
    handle(ledger, INBOX, range(331, 351))
    assert ledger.rereads({INBOX: 351}) == []


def test_a_gap_between_messages_is_read_again_once_the_copies_arrive() -> None:
    # As in the restart test: 3431..3434 skipped, later ones handled, the commit held back.
    ledger = ledger_at(INBOX, 3429)
    handle(ledger, INBOX, [3429, 3429, 3430, 3435, 3436])
    assert ledger.rereads({INBOX: 3431}) == [Reread(INBOX, 3431)]
    # Events fetched before the seek come first; they are not a second gap.
    handle(ledger, INBOX, [3437, 3438])
    handle(ledger, INBOX, range(3431, 3439))
    assert ledger.rereads({INBOX: 3439}) == []


def test_a_gap_right_after_the_assignment_counts() -> None:
    ledger = ledger_at(INBOX, 100)
    handle(ledger, INBOX, [104, 105])
    assert ledger.rereads({INBOX: 106}) == [Reread(INBOX, 100)]


def test_a_reread_that_does_not_arrive_is_asked_again_then_given_up() -> None:
    ledger = ledger_at(INBOX, 10)
    handle(ledger, INBOX, range(10, 20))
    asked = [ledger.rereads({INBOX: 30}) for _ in range(MAX_REREADS + 1)]
    assert asked[:MAX_REREADS] == [[Reread(INBOX, 20)]] * MAX_REREADS
    assert asked[MAX_REREADS] == []
    assert ledger.rereads({INBOX: 30}) == []


def test_partitions_are_independent_and_forgotten_when_revoked() -> None:
    ledger = OffsetLedger()
    ledger.assigned([INBOX, EVENTS], {INBOX: 5, EVENTS: 7})
    handle(ledger, EVENTS, range(7, 12))
    handle(ledger, INBOX, [5, 9])
    assert ledger.rereads({INBOX: 6, EVENTS: 12}) == [Reread(INBOX, 6)]
    ledger.assigned([EVENTS], {EVENTS: 12})
    assert ledger.rereads({INBOX: 100, EVENTS: 12}) == []


def test_a_partition_kept_through_a_rebalance_keeps_its_place() -> None:
    ledger = ledger_at(INBOX, 0)
    handle(ledger, INBOX, range(0, 10))
    # Faust seeks back to its commit after the rebalance: the copies are no gap.
    ledger.assigned([INBOX], {INBOX: 8})
    handle(ledger, INBOX, range(8, 12))
    assert ledger.rereads({INBOX: 12}) == []


def test_a_partition_without_a_commit_starts_at_its_first_message() -> None:
    ledger = OffsetLedger()
    ledger.assigned([INBOX], {})
    handle(ledger, INBOX, [40, 41])
    assert ledger.rereads({INBOX: 42}) == []
