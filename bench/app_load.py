"""Load benchmark of the GIF service against a plain Starlette + asyncpg service.

Starts an embedded PostgreSQL, migrates and seeds it, starts the GIF service
(`python -m app serve`, one process, its JSON request log going to a file as in
production) and, for comparison in the same run, a minimal Starlette + asyncpg service on
uvicorn (one worker, same query, same pool size, no access log). Then drives /healthz
and /gif of each with wrk at 64 connections and prints requests/s, p50, p99, errors,
the resident memory of each server process and the CPU time it spent per request (a
figure that, unlike requests/s, holds up when other work shares the machine).

    .venv/bin/python bench/app_load.py [--duration 10] [--connections 64]

Targets (issue 2): ours >= the reference's /gif requests/s, p99 < 30 ms, no errors,
< 80 MB RSS. This prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.local.postgres import LocalPostgres  # noqa: E402

REFERENCE = textwrap.dedent(
    """
    import contextlib, os, random
    import asyncpg
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    PICK = '''
    (SELECT id, title, width, height FROM gifs WHERE pick_key >= $1 ORDER BY pick_key LIMIT 1)
    UNION ALL (SELECT id, title, width, height FROM gifs ORDER BY pick_key LIMIT 1) LIMIT 1
    '''
    pool = None

    @contextlib.asynccontextmanager
    async def lifespan(app):
        global pool
        pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=10, max_size=10)
        yield
        await pool.close()

    async def healthz(request):
        return JSONResponse({"status": "ok"})

    async def gif(request):
        row = await pool.fetchrow(PICK, random.random())
        return JSONResponse({"id": row[0], "title": row[1], "width": row[2],
                             "height": row[3], "url": f"/gifs/{row[0]}"})

    app = Starlette(routes=[Route("/healthz", healthz), Route("/gif", gif)], lifespan=lifespan)
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per server and path, alternating servers"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="gifstack-bench-"))
    work.chmod(0o755)  # the PostgreSQL server user must reach its data directory
    postgres = LocalPostgres(work / "pg", ephemeral=True)
    servers: list[subprocess.Popen] = []
    try:
        url = postgres.start()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DB_POOL_MIN": "10",
            "DB_POOL_MAX": "10",
            "METRICS_PORT": "0",  # any free port: never clash with another service's 9090
        }
        for command in ("migrate", "seed"):
            subprocess.run(
                [sys.executable, "-m", "app", command],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        (work / "reference.py").write_text(REFERENCE)
        ours_port, reference_port = _free_port(), _free_port()
        ours = _start(
            [sys.executable, "-m", "app", "serve", "--port", str(ours_port)],
            cwd=ROOT,
            env=env,
            log=work / "ours.log",
        )
        reference = _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "reference:app",
                "--port",
                str(reference_port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=work,
            env=env,
            log=work / "reference.log",
        )
        servers += [ours, reference]
        targets = {
            "gifstack (plain ASGI)": (ours, ours_port),
            "reference (Starlette)": (reference, reference_port),
        }
        for name, (process, port) in targets.items():
            _wait_ready(name, process, f"http://127.0.0.1:{port}/gif", work)
        print(
            f"wrk: {args.connections} connections, {args.threads} threads, {args.duration} s "
            f"per run, {args.rounds} rounds alternating the servers; {os.cpu_count()} CPUs "
            f"shared with PostgreSQL and wrk; load average before: {_load()}"
        )
        header = (
            f"{'server':<23} {'path':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>7} {'RSS MB':>7} {'CPU us/req':>10}"
        )
        print(header)
        medians = []
        for path in ("/healthz", "/gif"):
            runs: dict[str, list[dict]] = {name: [] for name in targets}
            for round_ in range(args.rounds):
                order = list(targets.items())
                if round_ % 2:
                    order.reverse()  # neither server always goes first
                for name, (process, port) in order:
                    target = f"http://127.0.0.1:{port}{path}"
                    _wrk(target, 2, args.connections, args.threads)  # warm-up
                    cpu_before = _cpu_seconds(process.pid)
                    result = _wrk(target, args.duration, args.connections, args.threads)
                    cpu = _cpu_seconds(process.pid) - cpu_before
                    result["cpu_us"] = cpu / max(result["requests"], 1) * 1e6
                    result["rss"] = _rss_mb(process.pid)
                    runs[name].append(result)
                    print(_row(name, path, result))
            for name, results in runs.items():
                ranked = sorted(results, key=lambda r: r["rps"])
                medians.append((name, path, ranked[len(ranked) // 2]))
        print(f"\nmedian run by requests/s (load average after: {_load()})")
        print(header)
        for name, path, result in medians:
            print(_row(name, path, result))
        for name, (process, _) in targets.items():
            print(f"{name}: peak RSS {_rss_mb(process.pid, 'VmHWM'):.1f} MB")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


def _row(name: str, path: str, result: dict) -> str:
    return (
        f"{name:<23} {path:<9} {result['rps']:>9.0f} {result['p50']:>8.2f} "
        f"{result['p99']:>8.2f} {result['errors']:>7} {result['rss']:>7.1f} "
        f"{result['cpu_us']:>10.0f}"
    )


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _start(argv: list[str], *, cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as handle:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _wait_ready(
    name: str, process: subprocess.Popen, url: str, work: Path, timeout_s: float = 20
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200 and json.load(response).get("id"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    logs = "".join(path.read_text()[-2000:] for path in work.glob("*.log"))
    sys.exit(f"{name}: {url} did not answer 200 within {timeout_s:.0f} s\n{logs}")


def _wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    requests = int(re.search(r"(\d+) requests in", output)[1])
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx[1]) if non_2xx else 0
    return {
        "rps": rps,
        "requests": requests,
        "p50": _latency(output, "50"),
        "p99": _latency(output, "99"),
        "errors": errors,
    }


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process: its cost per request, whatever the load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M)[1]) / 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
