"""The fixture mirror of investchn.com: test and demo tooling, not part of the crawler.

investcrawl never imports this package; it crawls the mirror over HTTP on loopback like
any other site. `python -m investmirror` serves it (see mirror.py for the options),
`python -m investmirror.demo` is `make demo`; the tests and benchmarks start it too.

- `mirror`: the site spec (the fixture's, or a synthetic site of any size), the page
  templates, the router and the loopback server;
- `faults`: the one vocabulary of page faults (`FAULTS`: the spec's statuses and the
  seeded plan the reliability tests play name them; `mirror.Mirror.play` serves each);
- `demo`: `make demo`, a crawl of the fixture mirror end to end.
"""
