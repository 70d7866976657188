"""Exit codes of `investcrawl harvest` and `scrapy crawl` (sysexits.h where one fits)."""

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed (see its verdict)
EXIT_USAGE = 2  # bad arguments
EXIT_INTERRUPTED = 3  # SIGINT/SIGTERM: stopped cleanly, the next harvest continues
EXIT_DATAERR = 65  # the archive is damaged, or from a newer investcrawl: nothing written
EXIT_CANTCREAT = 73  # the archive (or WARC folder) cannot be written: full, read-only, locked
EXIT_PROTOCOL = 76  # the site's pages no longer read (drift.py): see investcrawl check-site
EXIT_LOCKED = 75  # another harvest is running (EX_TEMPFAIL: try again later)


class Interrupted(SystemExit):
    """SIGTERM or SIGINT before a crawl took the signals over (Scrapy's handlers then stop
    the crawl cleanly): the command stops where it is and exits EXIT_INTERRUPTED (a
    SystemExit: wherever it lands, an import included, no traceback)."""

    def __init__(self) -> None:
        super().__init__(EXIT_INTERRUPTED)


_signalled: list[int] = []  # the signal that came, once stop_on_signals is on


def stop_on_signals() -> None:
    """From a command's first lines: SIGTERM and SIGINT stop it with one line on stderr
    and exit EXIT_INTERRUPTED (not the default: a silent death, 143, or a
    KeyboardInterrupt traceback). The handler raises Interrupted where the signal lands;
    code that swallows it (a C extension's import) cannot hide it: stop_if_signalled(),
    at the command's next step, raises it again. Later signals are ignored: stopping
    already (a second one must not kill the exit with 143 or 130)."""
    import os
    import signal

    def interrupted(signum: int, frame: object) -> None:
        for other in (signal.SIGTERM, signal.SIGINT):
            signal.signal(other, signal.SIG_IGN)
        if not _signalled:
            os.write(2, b"investcrawl: stopped by a signal\n")  # print() is not safe here
        _signalled.append(signum)
        raise Interrupted

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupted)


def stop_if_signalled() -> None:
    """A step of a command: stop here (Interrupted) if a signal came."""
    if _signalled:
        raise Interrupted
