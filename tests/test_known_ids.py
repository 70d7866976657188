"""probe.KnownIds: what a run knows of article ids (how far links reach, the misses held
until a higher id answers, the probe once started), without Scrapy."""

from __future__ import annotations

from investcrawl.failures import Outcome
from investcrawl.probe import KnownIds

HIT, MISS, OPEN = Outcome.HIT, Outcome.MISS, Outcome.OPEN


def test_a_miss_above_every_hit_is_held_until_a_higher_id_answers():
    ids: KnownIds[str] = KnownIds(max_jump=1000)
    assert ids.settle(100, HIT, None) == ([], False)
    assert ids.settle(105, MISS, "gap 105") == ([], True)  # past the top: held
    assert ids.settle(103, MISS, "gap 103") == ([], True)
    assert ids.settle(99, MISS, "gap 99") == ([], False)  # below a hit: the caller writes it
    assert sorted(ids.held()) == ["gap 103", "gap 105"]
    gaps, taken = ids.settle(104, HIT, None)
    assert (gaps, taken) == (["gap 103"], False)  # 103 is a gap now; 105 still past the top
    assert ids.held() == ["gap 105"]


def test_an_outlier_does_not_move_the_reach():
    ids: KnownIds[str] = KnownIds(max_jump=1000)
    ids.listed(5_000)
    assert ids.reach() == 6_000
    ids.settle(5_001, HIT, None)
    ids.settle(900_000, HIT, None)  # a 上一条 link to a far-away id that answered
    assert ids.max_seen == 5_001
    assert ids.reach() == 6_001
    ids.settle(900_500, HIT, None)  # two near each other far above: the top has moved
    assert ids.max_seen == 900_500


def test_an_empty_run_reaches_every_id():
    assert KnownIds(max_jump=10).reach() > 10**9


def test_the_probe_holds_the_misses_in_its_window_and_each_gap_is_written_once():
    ids: KnownIds[str] = KnownIds(max_jump=50)
    ids.settle(10, HIT, None)
    ids.settle(12, MISS, "gap 12")
    ids.settle(5_000, MISS, "far 5000")  # far past the probe's window
    probe = ids.start_probe(10, misses=5, limit=100)
    assert probe.held() == ["gap 12"]
    assert sorted(ids.held()) == ["far 5000", "gap 12"]
    gaps, taken = ids.settle(13, HIT, None)
    assert (gaps, taken) == (["gap 12"], False)  # once: from the probe, not again from here
    gaps, taken = ids.settle(14, MISS, "gap 14")
    assert (gaps, taken) == ([], True)  # held by the probe
    assert ids.settle(15, HIT, None) == (["gap 14"], False)
    assert ids.held() == ["far 5000"]
    assert probe.frontier == 10  # ids 11 never settled: the frontier waits for them


def test_an_open_id_is_written_by_the_caller_and_told_to_the_probe():
    ids: KnownIds[str] = KnownIds(max_jump=50)
    probe = ids.start_probe(10, misses=3, limit=100)
    assert probe.next_ids() == [11, 12, 13]
    assert ids.settle(11, OPEN, "timeout") == ([], False)
    assert ids.settle(12, HIT, None) == ([], False)
    assert probe.frontier == 12  # over the open id: settled (its failure is retried)
