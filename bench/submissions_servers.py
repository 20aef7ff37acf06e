"""The servers and the load of bench/submissions.py: gunicorn on a free port, and wrk's runs
against it, read into requests per second and the 99th percentile.

Imported by bench/submissions.py (run it, not this module).
"""

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench import support
from bench.submissions_cpu import CpuSampler

WORKERS = 4
THREADS, CONNECTIONS = 2, 16
DURATION = os.environ.get("BENCH_DURATION", "15s")
WARMUP = os.environ.get("BENCH_WARMUP", "3s")
#: Share of answers that may be something else than 201 (project) or 2xx (baseline).
MAX_BAD_SHARE = 0.01


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a server, a load run, a check)."""


# --- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    app: str
    directory: Path
    environment: dict[str, str]
    ready_path: str
    port: int = field(default_factory=free_port)
    workers: int = WORKERS
    #: Threads per worker: more than one serves with gunicorn's gthread workers, which keep a
    #: client's connection open between requests (sync workers close it after each).
    threads: int = 1
    niceness: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def start(self) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"bench-{self.name}-", suffix=".log", delete=False
        )
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            self.app,
            "-w",
            str(self.workers),
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(
            support.niced(command, self.niceness),
            cwd=self.directory,
            env=self.environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(f"{self.name} server exited; see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.ready_path)
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            if status == 200:
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} server not ready in {timeout:.0f} s; see {self.log_path}")

    @property
    def log_path(self) -> str:
        return self.log.name if self.log is not None else "-"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its workers
                self.process.wait()
        if self.log is not None:
            self.log.close()


# --- load ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p99_ms: float
    output: str
    requests: int = 0
    #: CPU time of the server's processes and database backends per request (submissions_cpu).
    cpu_ms_per_request: float = float("nan")


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_parse(output: str) -> Load:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    return Load(float(rps.group(1)), float(p99.group(1)) * _UNIT_MS[p99.group(2)], output)


def wrk_run(
    *, name: str, url: str, script: Path, duration: str, environment: dict[str, str]
) -> Load:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise BenchError(f"wrk against {name} failed (exit {result.returncode}):\n{output}")
    load = wrk_parse(output)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    non2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.MULTILINE)
    if total and non2xx and int(non2xx.group(1)) > MAX_BAD_SHARE * int(total.group(1)):
        raise BenchError(f"{name}: too many non-2xx answers:\n{output}")
    return Load(load.requests_per_second, load.p99_ms, output, int(total.group(1)) if total else 0)


def warm_up(
    *, name: str, url: str, script: Path, environment: dict[str, str], duration: str | None = None
) -> None:
    print(f"--- {name}: warm-up {duration or WARMUP}", flush=True)
    wrk_run(
        name=name,
        url=url,
        script=script,
        duration=duration or WARMUP,
        environment={**environment, "BENCH_SALT": secrets.token_hex(4)},
    )


def load_measure(
    *,
    name: str,
    url: str,
    script: Path,
    environment: dict[str, str],
    processes: Callable[[], dict[str, set[int]]],
) -> Load:
    """One measured wrk run, with the CPU the server's ``processes`` spent on it."""
    print(
        f"--- {name}: {THREADS} threads, {CONNECTIONS} connections, {DURATION} "
        f"(load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        "other work on this machine skews the ratio)",
        flush=True,
    )
    sampler = CpuSampler(processes)
    sampler.start()
    try:
        load = wrk_run(
            name=name,
            url=url,
            script=script,
            duration=DURATION,
            environment={**environment, "BENCH_SALT": secrets.token_hex(4)},
        )
    finally:
        spent = sampler.stop()
    print(load.output.rstrip(), flush=True)
    count = max(load.requests, 1)
    per_request = {group: 1000 * seconds / count for group, seconds in spent.items()}
    cpu_ms = sum(per_request.values()) if load.requests else float("nan")
    split = ", ".join(f"{group} {ms:.3f}" for group, ms in sorted(per_request.items()))
    print(f"--- {name}: {cpu_ms:.3f} ms of CPU per request ({split})", flush=True)
    return Load(load.requests_per_second, load.p99_ms, load.output, load.requests, cpu_ms)
