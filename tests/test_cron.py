"""The cron lines of the docs, run exactly as written, from a fresh clone: the shell's
redirection included (a fresh clone must have the folders they name)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, rows, start_mirror

DOCUMENTED = [ROOT / "docs" / "operations.md", ROOT / "README.md"]


def cron_lines(path: Path) -> list[str]:
    """The entries of the ```cron blocks of a document (comments left out)."""
    blocks = re.findall(r"```cron\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    return [
        line
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.fixture(scope="module")
def small_mirror():
    served = start_mirror("--synthetic", "30", "--cities", "2", "--zones", "3")
    yield served
    served.stop()


@pytest.mark.parametrize(
    "line",
    [line for path in DOCUMENTED for line in cron_lines(path)],
    ids=lambda line: "with-log" if ">>" in line else "plain",
)
def test_the_documented_cron_line_works_on_a_fresh_clone(line, small_mirror, tmp_path):
    clone = tmp_path / "investcrawl"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # The clone as `make install` leaves it: its .venv/bin/investcrawl, this interpreter's.
    (clone / ".venv" / "bin").mkdir(parents=True)
    installed = shutil.which("investcrawl") or str(Path(sys.executable).with_name("investcrawl"))
    (clone / ".venv" / "bin" / "investcrawl").symlink_to(installed)
    schedule, command = line.split(None, 5)[:5], line.split(None, 5)[5]
    assert len(schedule) == 5 and "/srv/investcrawl" in command
    command = command.replace("/srv/investcrawl", str(clone))  # where it is installed
    env = {
        **os.environ,
        "INVESTCRAWL_BASE_URL": small_mirror.url,  # never the live site
        "SCRAPY_SETTINGS_MODULE": "loopback_settings",
        "PYTHONPATH": str(ROOT / "tests"),
    }
    done = subprocess.run(
        ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    archive = clone / "data" / "archive.db"
    assert rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"] == 30
    assert (clone / "data" / "warc").is_dir() and list((clone / "data" / "warc").iterdir())
    summary = (clone / "data" / "logs" / "cron.log").read_text() if ">>" in line else done.stdout
    assert summary.startswith("harvest OK")
    # The summary says when: a cron log holds one summary a day.
    assert re.search(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", summary), summary
