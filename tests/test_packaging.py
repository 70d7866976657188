"""investcrawl as a user installs it: a wheel in a fresh venv, run from another folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import FAST_SETTINGS, ROOT, rows


def test_a_wheel_in_a_fresh_venv_runs_the_demo_a_harvest_and_the_tools_from_another_folder(
    tmp_path,
):
    dist, source = tmp_path / "dist", tmp_path / "source"

    # A clean copy of the sources: a build/ folder left in the checkout would be reused.
    def left_out(folder: str, names: list[str]) -> set[str]:
        # (data/ only at the top: investcrawl/data is the package's own)
        top = {".git", ".venv", "build", "data"} if Path(folder) == ROOT else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(ROOT, source, ignore=left_out)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("investcrawl-*.whl")
    # A fresh venv, the wheel installed in it by its own pip run; its dependencies are this
    # environment's, by a .pth line (installing them anew would need the network).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    ask = [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    site = Path(subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", wheel],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
            timeout=300, check=False, **kwargs,
        )  # fmt: skip

    where = run("-c", "import investcrawl; print(investcrawl.__file__)")
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr

    demo = run("-m", "investmirror.demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Archive data/demo.db: 23 articles" in demo.stdout
    assert (elsewhere / "data" / "demo.db").exists()

    mirror = subprocess.Popen(
        [python, "-m", "investmirror", "--port", "0"],
        cwd=elsewhere, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = mirror.stdout.readline().strip()
        settings = [
            arg for name, value in FAST_SETTINGS.items() for arg in ("-s", f"{name}={value}")
        ]
        # The console script the wheel installs, as a user runs it.
        harvest = subprocess.run(
            [str(venv / "bin" / "investcrawl"), "harvest", "--base-url", url, *settings],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert harvest.returncode == 0, harvest.stdout + harvest.stderr
        archive = elsewhere / "data" / "archive.db"
        assert rows(archive, "SELECT count(*) AS n FROM articles") == [{"n": 23}]
        found = run("-m", "investcrawl.cli", "search", "港区")
        assert found.returncode == 0 and "186540" in found.stdout, found.stdout + found.stderr
        # Scrapy's commands find the project by its settings module, from any folder.
        env["SCRAPY_SETTINGS_MODULE"] = "investcrawl.settings"
        crawl = run("-m", "scrapy", "crawl", "investchn", "-a", f"base_url={url}", *settings)
        assert crawl.returncode == 0, crawl.stderr[-3000:]
        assert "crawl OK" in crawl.stderr
        parsed = run("-m", "scrapy", "parse", url + "/index.php/home/news/detail/id/186540.html")
        assert parsed.returncode == 0 and "'id': 186540" in parsed.stdout, parsed.stderr[-3000:]
    finally:
        mirror.terminate()
        mirror.wait(timeout=10)
