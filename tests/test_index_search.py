"""spiders.investchn.IndexSearch: finding the section index as one chain (its route, then
the home page and what it links as 开发区新闻, then on without it), ended once."""

from __future__ import annotations

from investcrawl.spiders.investchn import IndexSearch


def test_the_index_read_at_its_route_ends_the_search():
    search = IndexSearch()
    search.asked("index")
    assert search.index_answered(read=True) == "end"
    assert search.ended


def test_no_index_at_its_route_asks_the_home_page_then_what_it_links():
    search = IndexSearch()
    search.asked("index")
    assert search.index_answered(read=False) == "home"
    assert not search.ended
    search.asked("home")
    search.asked("index")  # the home page links 开发区新闻
    assert search.home_answered() == "wait"
    assert search.index_answered(read=True) == "end"


def test_when_every_way_fails_the_run_goes_on_without_the_index():
    search = IndexSearch()
    search.asked("index")
    search.asked("index")  # two routes tried
    assert search.index_answered(read=False) == "home"
    search.asked("home")
    assert search.home_answered() == "wait"  # the other route has not answered
    assert search.index_answered(read=False) == "end"


def test_a_home_page_linking_no_index_ends_the_search():
    search = IndexSearch()
    search.asked("index")
    assert search.index_answered(read=False) == "home"
    search.asked("home")
    assert search.home_answered() == "end"
