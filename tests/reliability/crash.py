"""Running a job in a child process and killing it with SIGKILL — not an exception: the process
just stops, mid-statement, mid-HTTP-call, wherever it is.

`run_child` starts the child (forkserver by default, a plain subprocess on request), waits for
its STARTED signal (the moment the job begins), then either lets it finish or kills it after
`kill_after` seconds. It returns how long the job ran and whether it was killed, so a test can
first measure a job's duration and then spread its kill delays over it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._serdes import serialize_value

CHILD_MODULE = "tests.reliability.child"
START_TIMEOUT = 120.0  # a subprocess child imports Dagster and may load the local model
RUN_TIMEOUT = 300.0

_forkserver: Any = None


def forkserver() -> Any:
    """The forkserver context, preloading the child module (Dagster + the app) once."""
    global _forkserver
    if _forkserver is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([CHILD_MODULE])
        _forkserver = ctx
    return _forkserver


@dataclass(frozen=True)
class ChildRun:
    killed: bool  # we SIGKILLed it (or the Slack stand-in's kill switch did)
    exit_code: int | None  # 0 success, 1 failed run, -9 killed
    ran_for: float  # seconds from the STARTED signal to the end (or the kill)
    pid: int

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def spec_for(
    job: str,
    run_config: Any,
    env: dict[str, str],
    instance: dg.DagsterInstance,
    log_path: Path,
) -> dict[str, Any]:
    config = run_config.to_config_dict() if hasattr(run_config, "to_config_dict") else run_config
    return {
        "job": job,
        "run_config": config or {},
        "env": env,
        "instance_ref": serialize_value(instance.get_ref()),
        "log_path": str(log_path),
    }


def run_child(
    spec: dict[str, Any],
    kill_after: float | None = None,
    *,
    subprocess_mode: bool = False,
    on_start: Any = None,
    while_running: Any = None,
) -> ChildRun:
    """Runs the spec's job in a child; SIGKILLs it `kill_after` seconds after the job started
    (None: let it finish). `on_start(pid)` is called once the child process exists (e.g. to arm
    the Slack stand-in's kill switch); `while_running()` once its job has started (e.g. to
    restart the database under it)."""
    if subprocess_mode:
        return _run_subprocess(spec, kill_after, on_start)
    ctx = forkserver()
    started = ctx.Event()
    process = ctx.Process(
        target=_entry, args=(json.dumps(spec), started), name=f"reliability-{spec['job']}"
    )
    process.start()
    assert process.pid is not None
    if on_start is not None:
        on_start(process.pid)
    if not started.wait(START_TIMEOUT):
        process.kill()
        process.join()
        raise RuntimeError(f"child never started; see {spec['log_path']}")
    begun = time.monotonic()
    if while_running is not None:
        while_running()
    killed = _wait_or_kill(process.pid, lambda t: process.join(t), process.is_alive, kill_after)
    process.join(RUN_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
        raise RuntimeError(f"child ran over {RUN_TIMEOUT} s; see {spec['log_path']}")
    ran_for = time.monotonic() - begun
    exit_code = process.exitcode
    return ChildRun(killed or exit_code == -signal.SIGKILL, exit_code, ran_for, process.pid)


def run_together(specs: list[dict[str, Any]]) -> list[ChildRun]:
    """Runs the specs' jobs in as many children at the same time (started back to back, then
    all awaited): overlapping runs, not a kill."""
    ctx = forkserver()
    children = []
    for spec in specs:
        started = ctx.Event()
        process = ctx.Process(target=_entry, args=(json.dumps(spec), started))
        process.start()
        children.append((process, started))
    begun = time.monotonic()
    for _process, started in children:
        if not started.wait(START_TIMEOUT):
            raise RuntimeError("a child never started")
    runs = []
    for process, _ in children:
        process.join(RUN_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
        runs.append(ChildRun(False, process.exitcode, time.monotonic() - begun, process.pid or 0))
    return runs


def _entry(spec_json: str, started: Any) -> None:
    from tests.reliability.child import forkserver_main

    forkserver_main(spec_json, started)


def _wait_or_kill(pid: int, join: Any, alive: Any, kill_after: float | None) -> bool:
    if kill_after is None:
        return False
    join(max(0.0, kill_after))
    if not alive():
        return False
    os.kill(pid, signal.SIGKILL)
    return True


def _run_subprocess(spec: dict[str, Any], kill_after: float | None, on_start: Any) -> ChildRun:
    spec_path = Path(spec["log_path"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", CHILD_MODULE, str(spec_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    if on_start is not None:
        on_start(process.pid)
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline().strip()
        if line == "STARTED":
            break
    if line != "STARTED":
        process.kill()
        process.wait()
        raise RuntimeError(f"subprocess child never started; see {spec['log_path']}")
    begun = time.monotonic()

    def join(timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)

    killed = _wait_or_kill(process.pid, join, lambda: process.poll() is None, kill_after)
    exit_code = process.wait(RUN_TIMEOUT)
    return ChildRun(
        killed or exit_code == -signal.SIGKILL, exit_code, time.monotonic() - begun, process.pid
    )
