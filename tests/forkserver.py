"""A fork server for the tests' command runs (conftest.run_module): `python -m <module>`
without paying for the interpreter's imports each time.

Started once per test session (by conftest) with the environment a run gets. For each
request (a JSON line on stdin: module, args, cwd, env, out, err) it forks a child that
does what `python -m module args...` does after start-up: the working folder first on
sys.path, stdin from /dev/null, stdout and stderr to the given files, the module run as
__main__ (runpy, as -m does: investcrawl.cli, or scrapy's __main__), then the interpreter's
own exit (atexit, SystemExit's code, a traceback and 1 for an uncaught exception). It
answers the child's pid, then its exit status as subprocess reports it (negative for a
signal).

What the child does not do is import Scrapy, Twisted and investcrawl from nothing: after
each run this process imports the modules the run imported (its atexit writes their names),
so the next child starts with them. Never imported here: a module run as __main__ (each
run imports it afresh, as -m does), and twisted.internet.reactor (importing it installs a
reactor; each run installs its own). Each fork checks that no reactor is installed and no
other thread runs. Python re-seeds `random` in a forked child; string hashes keep this
process's seed (a session's runs share one hash order, as a set's order).

Tests about start-up itself (a signal while importing, the console script, the demo, the
wheel) run real subprocesses; so does conftest.run_module(fresh=True).
"""

import atexit
import importlib
import json
import os
import runpy
import sys
import threading

# Modules run as __main__ (each run imports them afresh) and the reactor (installed by import).
RUN_AS_MAIN = {"investcrawl.cli"}
NEVER = {"twisted.internet.reactor", *RUN_AS_MAIN}


def learn(path: str) -> None:
    """Import the modules a finished run imported (names in path), but a __main__ one."""
    try:
        with open(path, encoding="utf-8") as handle:
            names = handle.read().split()
        os.unlink(path)
    except OSError:
        return
    for name in names:
        if name in sys.modules or name in NEVER or "__main__" in name:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a module only importable in its own context)
            pass
    for name in RUN_AS_MAIN:  # imported by name on the way: the run imports it again
        if sys.modules.pop(name, None) is not None:
            package, _, leaf = name.rpartition(".")
            vars(sys.modules[package]).pop(leaf, None)


def child(request: dict) -> None:
    """The forked child: become `python -m module args` and run (never returns)."""
    os.close(REQUESTS)
    os.close(ANSWERS)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = os.getcwd()  # as `python -m` sets it
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, request["out"]), (2, request["err"])):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    encoding = sys.__stdout__.encoding
    sys.stdin = sys.__stdin__ = open(0, encoding=encoding, closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", encoding=encoding, closefd=False)
    sys.stderr = sys.__stderr__ = open(
        2, "w", encoding=encoding, errors="backslashreplace", buffering=1, closefd=False
    )

    listing = os.path.join(request["work"], f"modules-{os.getpid()}.txt")

    def list_modules() -> None:
        with open(listing, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(sys.modules)))

    atexit.register(list_modules)  # runs last: after the run's own atexit functions
    sys.argv = [request["module"], *request["args"]]
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    sys.exit(0)


def serve() -> None:
    answers = os.fdopen(ANSWERS, "w", encoding="utf-8")
    requests = os.fdopen(REQUESTS, encoding="utf-8")
    for line in requests:
        request = json.loads(line)
        module = sys.modules.get(request["module"])
        if module is not None and not hasattr(module, "__path__"):
            raise AssertionError(f"{request['module']} was imported: it cannot run as -m does")
        if threading.active_count() != 1 or "twisted.internet.reactor" in sys.modules:
            raise AssertionError("cannot fork: a thread runs or a reactor is installed")
        pid = os.fork()
        if pid == 0:
            child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()
        learn(os.path.join(request["work"], f"modules-{pid}.txt"))


# The answers go on a copy of stdout; fd 1 itself goes to stderr (an import's print).
REQUESTS, ANSWERS = os.dup(0), os.dup(1)
os.dup2(2, 1)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
sys.path[0] = os.getcwd()

if __name__ == "__main__":
    serve()
