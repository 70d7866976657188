"""The id probe and what a harvest does with ids: pure IdProbe cases, then real harvests of
fixture-mirror variants (the spec with a few articles changed)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time

from conftest import crawl_state, rows, run_crawl, run_harvest, slow_settings

from investcrawl.probe import IdProbe, Outcome, plausible_max

HIT, MISS, OPEN = Outcome.HIT, Outcome.MISS, Outcome.OPEN
DETAIL = "/index.php/home/news/detail/id/{}.html"


# --- IdProbe, pure ----------------------------------------------------------------------


def test_the_window_slides_past_each_hit():
    probe = IdProbe(100, misses=3)
    assert probe.next_ids() == [101, 102, 103]
    assert probe.settle(103, HIT) == []
    assert probe.next_ids() == [104, 105, 106]  # 3 past the new highest hit
    assert probe.next_ids() == []


def test_misses_past_the_last_hit_are_held_and_become_gaps_below_a_later_hit():
    probe = IdProbe(100, misses=3)
    probe.next_ids()
    assert probe.settle(101, MISS, "101 missing") == []  # held: maybe not issued yet
    assert probe.settle(102, HIT) == ["101 missing"]  # a gap now: to record
    assert probe.settle(104, MISS, "104 missing") == []
    assert probe.frontier == 102


def test_the_frontier_never_passes_an_unsettled_id():
    probe = IdProbe(100, misses=5)
    probe.next_ids()
    probe.settle(101, HIT)
    probe.settle(103, HIT)  # 102: asked, no outcome yet (in flight, or its run cut short)
    probe.settle(104, HIT)
    assert probe.frontier == 101
    probe.settle(102, OPEN)  # a 503: recorded as a transient failure, retried next harvest
    assert probe.frontier == 104
    assert probe.highest_hit == 104  # an open id is settled, not a hit


def test_a_miss_recorded_elsewhere_then_a_higher_hit_records_nothing_twice():
    probe = IdProbe(100, misses=5)
    probe.next_ids()
    assert probe.settle(103, MISS) == []  # a 上一条 link's 404: recorded by the spider
    assert probe.settle(105, HIT) == []  # no None, no crash
    assert probe.settle(102, MISS, "102 missing") == ["102 missing"]


def test_the_top_of_the_id_sequence_is_not_an_outlier():
    assert plausible_max([30_000_000, 186_540, 186_538], 1000) == 186_540
    assert plausible_max([186_540], 1000) == 186_540
    assert plausible_max([30_000_000, 5], 1000) == 5
    assert plausible_max([], 1000) is None


def test_a_far_away_hit_does_not_move_the_probe():
    probe = IdProbe(186_540, misses=20, max_jump=1000)
    probe.next_ids()
    assert probe.settle(20_000_000, HIT) == []
    assert probe.highest_hit == 186_540 and not probe.tracks(20_000_000)
    assert probe.next_ids() == []
    probe.settle(186_900, HIT)  # within the jump: a real gap of other sections' ids
    assert len(probe.next_ids()) == 186_920 - 186_560


def test_the_probe_is_bounded_per_run_and_in_memory():
    """A site where every id exists: the probe stops at its limit, holding little."""
    probe = IdProbe(0, misses=20, limit=5000)
    asked = 0
    for _ in range(1000):
        if not (ids := probe.next_ids()):
            break
        asked += len(ids)
        for article_id in ids:
            probe.settle(article_id, HIT)
        assert len(probe._settled) + len(probe._held) <= 20
    assert asked == 5000 and probe.limited and probe.frontier == 5000


# --- Harvests of mirror variants --------------------------------------------------------


def frontier(archive) -> int:
    return int(crawl_state(archive)["probe_frontier"])


def test_the_probe_window_slides_past_hits_in_a_harvest(variant, tmp_path):
    """186545 is in no listing and no article links it; 186544 does not exist. With two
    misses allowed, only a window that slides past each hit reaches it."""
    mirror = variant({})
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    result = run_harvest(mirror.url, archive, settings={"HARVEST_PROBE_MISSES": "2"})
    assert result.returncode == 0, result.stdout
    assert rows(archive, "SELECT id FROM articles WHERE id = 186545") == [{"id": 186545}]
    assert frontier(archive) == 186545


def test_an_id_that_fails_for_now_is_retried_and_does_not_hold_the_frontier(variant, tmp_path):
    """186542 answers 503 to its first three requests (the first while it is not yet
    published, then twice). It is recorded (transient), the frontier moves past it, and
    the harvests after retry it until it is archived. 186541 links 186544 (missing) as
    下一条: a miss above the frontier that is not the probe's, then higher ids exist:
    recorded once, no crash."""
    mirror = variant({186542: {"status": "flaky", "fail_times": 3}, 186541: {"next_id": 186544}})
    archive = tmp_path / "archive.db"
    once = {"RETRY_TIMES": "0"}
    assert run_harvest(mirror.url, archive, settings=once).returncode == 0
    mirror.set_phase(2)
    for attempts in (1, 2):  # 503, then 503 again (the due retry)
        result = run_harvest(mirror.url, archive, settings=once)
        assert result.returncode == 0, result.stdout
        assert frontier(archive) == 186545
        flaky = rows(
            archive, "SELECT kind, attempts FROM failures WHERE url LIKE ?", "%186542.html"
        )
        assert flaky == [{"kind": "http_error", "attempts": attempts}]
    assert run_harvest(mirror.url, archive, settings=once).returncode == 0
    archived = {r["id"] for r in rows(archive, "SELECT id FROM articles WHERE id > 186540")}
    assert archived == {186541, 186542, 186543, 186545}
    gap = rows(archive, "SELECT kind FROM failures WHERE url LIKE ?", "%" + DETAIL.format(186544))
    assert gap == [{"kind": "http_404"}]
    assert frontier(archive) == 186545


def test_a_probe_request_dropped_as_a_repeat_is_not_a_hit(variant, tmp_path):
    """186541 links 186550, which does not exist (yet). The next harvest asks for 186550
    as an archived article's link first, then the probe reaches it: the probe's request is
    a repeat, dropped; it must wait for the first request's outcome (a miss past the last
    id), not count as a hit that would pass 186546-186549 as gaps."""
    mirror = variant({186541: {"next_id": 186550}})
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    for _ in range(2):
        result = run_harvest(mirror.url, archive)
        assert result.returncode == 0, result.stdout
        assert frontier(archive) == 186545
    after_top = rows(
        archive,
        "SELECT url FROM failures WHERE url LIKE '%/id/18655%' "
        "OR url LIKE '%/id/18654_.html' AND url NOT LIKE '%/id/186544.html'",
    )
    assert after_top == []  # ids past the last one are not failures


def test_far_away_and_overlong_ids_do_not_poison_the_probe(variant, tmp_path):
    """A new article links 上一条 to id 20,000,000 (which answers) and 下一条 to a 20-digit
    id; another listed article has id 30,000,000. None of them moves the frontier; the
    linked ones are not fetched (the far one is recorded); later harvests stay cheap."""
    overlong = 12345678901234567890
    mirror = variant(
        {},
        new=[
            {"id": 186546, "phase": 2, "prev_id": 20_000_000, "next_id": overlong,
             "title": "链接到很远的编号"},
            {"id": 20_000_000, "phase": 2, "listed": False, "title": "很远的编号"},
            {"id": overlong, "phase": 2, "listed": False, "title": "二十位编号"},
            {"id": 30_000_000, "phase": 2, "title": "列表里很远的编号"},
            {"id": 40_000_000, "phase": 1, "title": "第一次就在列表里的很远的编号"},
        ],
    )  # fmt: skip
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    assert frontier(archive) == 186540  # the walk's probe started below 40,000,000
    mirror.set_phase(2)
    result = run_harvest(mirror.url, archive)
    assert result.returncode == 0, result.stdout
    requested = mirror.requests()
    assert DETAIL.format(20_000_000) not in requested
    assert DETAIL.format(overlong) not in requested
    far = rows(
        archive, "SELECT kind FROM failures WHERE url LIKE ?", "%" + DETAIL.format(20_000_000)
    )
    assert far == [{"kind": "implausible_id"}]
    linked = rows(archive, "SELECT prev_id, next_id FROM articles WHERE id = 186546")
    assert linked == [{"prev_id": 20_000_000, "next_id": None}]
    # Listed, so fetched and kept; but the frontier is the top of the real sequence.
    assert rows(archive, "SELECT id FROM articles WHERE id = 30000000") == [{"id": 30_000_000}]
    assert frontier(archive) == 186546
    before = sum(mirror.requests().values())
    again = run_harvest(mirror.url, archive)
    assert again.returncode == 0, again.stdout
    assert sum(mirror.requests().values()) - before <= 40
    assert frontier(archive) == 186546
    # A frontier an older version let far-away ids set is not used: the archive's own top.
    conn = sqlite3.connect(archive)
    conn.execute("UPDATE crawl_state SET value = '25000000' WHERE key = 'probe_frontier'")
    conn.commit()
    conn.close()
    before = sum(mirror.requests().values())
    healed = run_harvest(mirror.url, archive)
    assert healed.returncode == 0, healed.stdout
    assert sum(mirror.requests().values()) - before <= 40
    assert frontier(archive) == 186546


def test_attempts_count_the_retries_of_a_run(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_harvest(mirror.url, archive, settings={"RETRY_TIMES": "1"})
    assert result.returncode == 0, result.stdout
    flaky = rows(archive, "SELECT kind, attempts FROM failures WHERE url LIKE ?", "%186531.html")
    assert flaky == [{"kind": "http_error", "attempts": 2}]  # 503 twice: asked twice


def test_a_redirect_to_a_page_fetched_already_is_recorded(variant, tmp_path):
    """186521 redirects to the section index, fetched first: Scrapy's duplicate filter
    drops the redirect; the URL that was asked for must not be lost."""
    mirror = variant(
        {186521: {"status": "redirect", "location": "/index.php/home/news/index.html"}}
    )
    archive = tmp_path / "archive.db"
    assert run_crawl(mirror.url, archive).returncode == 0
    failure = rows(archive, "SELECT kind, detail FROM failures WHERE url LIKE ?", "%186521.html")
    assert failure[0]["kind"] == "refused"
    assert "redirect to a page fetched already" in failure[0]["detail"]


def test_a_network_error_in_an_id_sweep_is_a_failure_not_a_missing_id(variant, tmp_path):
    mirror = variant({186502: {"status": "reset"}})
    archive = tmp_path / "archive.db"
    result = run_crawl(
        mirror.url, archive, "-a", "start=186500", "-a", "end=186505",
        settings={"RETRY_TIMES": "0"}, spider="investchn_ids",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    failure = rows(archive, "SELECT kind FROM failures WHERE url LIKE ?", "%186502.html")
    assert failure == [{"kind": "network_error"}]
    missing = rows(archive, "SELECT first_id, last_id FROM id_misses ORDER BY first_id")
    assert {(r["first_id"], r["last_id"]) for r in missing} == {(186501, 186501), (186503, 186504)}


def slow_harvest_under_way(mirror, archive):
    """A harvest slow enough to interrupt, a second and a half after its WARC file opened."""
    process = run_harvest(
        mirror.url, archive, settings=slow_settings(0.2),
        popen={"stdout": subprocess.PIPE, "text": True},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list((archive.parent / "warc").glob("*.open")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    return process


def test_a_walk_cut_short_by_sigterm_is_not_complete_and_moves_nothing(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    process = slow_harvest_under_way(mirror, archive)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 3, out
    assert crawl_state(archive) == {}
    assert rows(archive, "SELECT finish_reason, error FROM crawl_runs") == [
        {"finish_reason": "shutdown", "error": out.splitlines()[0].removeprefix("harvest ")}
    ]


def test_articles_linked_from_archived_ones_are_fetched_by_the_next_harvest(mirror, tmp_path):
    """A run cut short after storing 186540 but before fetching what it links (186300, in
    no listing, which links 10270): the next harvest fetches both, in one query's worth of
    work, however long the archived chains."""
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    conn = sqlite3.connect(archive)
    conn.execute("DELETE FROM articles WHERE id IN (186300, 10270)")  # as if never fetched
    conn.commit()
    conn.close()
    before = mirror.requests()
    result = run_harvest(mirror.url, archive)
    assert result.returncode == 0, result.stdout
    ids = {r["id"] for r in rows(archive, "SELECT id FROM articles WHERE id IN (186300, 10270)")}
    assert ids == {186300, 10270}
    fetched = mirror.requests()
    assert fetched[DETAIL.format(186300)] - before.get(DETAIL.format(186300), 0) == 1


def test_a_section_index_redirected_off_the_host_still_starts_the_probe(variant, tmp_path):
    """The index 302s to another host (a captcha or WAF domain): recorded as refused, and
    the harvest goes on with what does not need it (due failures, archived links, the id
    probe), which finds the new articles."""
    index = "/index.php/home/news/index.html"
    mirror = variant(
        {}, [], redirect_paths={index: "http://127.0.0.2:9/captcha"}, redirect_from_phase=2
    )
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    result = run_harvest(mirror.url, archive)
    assert result.returncode == 0, result.stdout
    new = {r["id"] for r in rows(archive, "SELECT id FROM articles WHERE id > 186540")}
    assert new == {186541, 186542, 186543, 186545}
    refused = rows(archive, "SELECT kind, detail FROM failures WHERE url LIKE ?", "%" + index)
    assert refused == [
        {"kind": "refused", "detail": "redirect off the site's host: http://127.0.0.2:9/captcha"}
    ]


def test_an_article_redirected_to_another_is_recorded_under_the_id_asked_for(variant, tmp_path):
    """186521 redirects to article 186600, which nothing else links: 186600 is archived,
    186521 is a failure row saying where it went, not a URL that is neither."""
    mirror = variant(
        {186521: {"status": "redirect", "location": DETAIL.format(186600)}},
        [{"id": 186600, "listed": False, "phase": 1, "title": "只经跳转可达的文章"}],
    )
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    assert rows(archive, "SELECT id FROM articles WHERE id IN (186521, 186600)") == [{"id": 186600}]
    moved = rows(archive, "SELECT kind, detail FROM failures WHERE url LIKE ?", "%186521.html")
    assert moved == [
        {"kind": "not_an_article", "detail": f"redirected to {mirror.url}" + DETAIL.format(186600)}
    ]


def test_a_second_signal_is_an_interruption_too(mirror, tmp_path):
    """SIGTERM twice forces Scrapy's unclean stop: the run never closes. Still exit 3, and
    nothing moved; the next run marks it killed."""
    archive = tmp_path / "archive.db"
    process = slow_harvest_under_way(mirror, archive)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 3, out
    assert "INTERRUPTED" in out and "did not start" not in out
    assert crawl_state(archive) == {}
