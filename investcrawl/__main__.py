"""`investcrawl` and `python -m investcrawl`: the signals are ours from the first line
(exitcodes.stop_on_signals), then the command line (cli.py)."""

from investcrawl.exitcodes import stop_on_signals

stop_on_signals()

from investcrawl.cli import main  # noqa: E402 (after the signals)

if __name__ == "__main__":
    main()
