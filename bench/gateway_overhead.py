"""Gateway overhead: Comprehend DetectDominantLanguage through `aigate serve` vs a bare FastAPI endpoint
calling py3langid directly. Same machine, same uvicorn options, same load generator and concurrency; the
targets run one after the other.

The bare server has two endpoints: the idiomatic sync `def` (FastAPI runs it in its thread pool) and an
`async def` that calls py3langid inline on the event loop, the fastest a bare endpoint gets. The headline
ratio is against the faster of the two.

    .venv/bin/python bench/gateway_overhead.py [--seconds 10] [--concurrency 8] [--warmup 2]

The load generator is a small asyncio HTTP/1.1 keep-alive client (one coroutine per connection, fixed
pre-encoded requests) so that it stays far from being the bottleneck. Only 200 responses count; anything else
(other status, connection failure) is reported as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GATEWAY_LOG_LEVEL = "WARNING"
GOAL = 0.50

# Realistic ~100-character sentences, a few languages; requests rotate through them.
SENTENCES = [
    "The quarterly report shows that revenue grew faster than expected, mostly thanks to new customers.",
    "Le conseil municipal a approuvé hier soir le nouveau plan de circulation pour le centre-ville.",
    "Die Bahn kündigte an, dass die Strecke zwischen Köln und Frankfurt ab Montag wieder befahrbar ist.",
    "El equipo de investigación publicó sus resultados después de tres años de trabajo en el laboratorio.",
    "Please remember to bring your passport and a printed copy of the booking confirmation to the desk.",
    "Il nuovo museo della città aprirà le sue porte al pubblico il primo fine settimana di settembre.",
]


# --------------------------------------------------------------------------------------------- bare server

def bare_app():
    """The baseline: one sync endpoint, py3langid's model loaded once at import of the app."""
    from importlib.resources import files

    from fastapi import Body, FastAPI
    from py3langid.langid import LanguageIdentifier

    model_path = Path(str(files("py3langid") / "data" / "model.npz.xz"))
    identifier = LanguageIdentifier.from_modelpath(model_path, norm_probs=True)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    def languages(text: str) -> dict:
        ranked = identifier.rank(text)[:3]
        return {"Languages": [{"LanguageCode": code, "Score": float(score)} for code, score in ranked]}

    @app.post("/detect")
    def detect(payload: dict = Body(...)) -> dict:
        return languages(payload["Text"])

    @app.post("/detect-inline")
    async def detect_inline(payload: dict = Body(...)) -> dict:
        return languages(payload["Text"])

    return app


def run_bare_server(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_config=None, access_log=False)


# ---------------------------------------------------------------------------------------------- load client

@dataclass
class Target:
    name: str
    port: int
    requests: list[bytes]  # pre-encoded full HTTP requests, rotated through


@dataclass
class Result:
    name: str
    seconds: float
    warmup: float
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds the load generator itself used, warm-up included

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def http_request(method: str, path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
             "Connection: keep-alive"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def gateway_requests(port: int) -> list[bytes]:
    headers = {"X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage",
               "Content-Type": "application/x-amz-json-1.1"}
    return [http_request("POST", "/", port, json.dumps({"Text": s}, ensure_ascii=False).encode(), headers)
            for s in SENTENCES]


def bare_requests(port: int, path: str) -> list[bytes]:
    headers = {"Content-Type": "application/json"}
    return [http_request("POST", path, port, json.dumps({"Text": s}, ensure_ascii=False).encode(), headers)
            for s in SENTENCES]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server will close the connection after it."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed by server")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    close = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def connection_loop(target: Target, offset: int, measure_from: float, stop_at: float, result: Result) -> None:
    index = offset
    reader = writer = None
    while time.perf_counter() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = target.requests[index % len(target.requests)]
            index += 1
            sent = time.perf_counter()
            writer.write(request)
            status, _, close = await read_response(reader)
            done = time.perf_counter()
            if close:
                writer.close()
                reader = writer = None
            if sent >= measure_from and done <= stop_at:
                if status == 200:
                    result.ok += 1
                    result.latencies.append(done - sent)
                else:
                    result.errors += 1
                    result.statuses[status] = result.statuses.get(status, 0) + 1
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            now = time.perf_counter()
            if measure_from <= now <= stop_at:
                result.errors += 1
                kind = type(error).__name__
                result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def load(target: Target, concurrency: int, warmup: float, seconds: float) -> Result:
    result = Result(target.name, seconds, warmup)
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    await asyncio.gather(*(connection_loop(target, i, measure_from, stop_at, result) for i in range(concurrency)))
    return result


def run_load(target: Target, concurrency: int, warmup: float, seconds: float) -> Result:
    try:
        import uvloop  # a lighter client loop where available
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    cpu = time.process_time()
    result = runner(load(target, concurrency, warmup, seconds))
    result.client_cpu = time.process_time() - cpu
    return result


# ---------------------------------------------------------------------------------------------- subprocesses

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http_ok(port: int, path: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {path} answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer GET {path} with 200 within {timeout:.0f}s")


def warm_up(target: Target, count: int = 5) -> None:
    """A few sequential requests, so lazy model loading is done before the timed run."""
    for i in range(count):
        with socket.create_connection(("127.0.0.1", target.port), timeout=60) as sock:
            sock.sendall(target.requests[i % len(target.requests)].replace(b"keep-alive", b"close"))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"{target.name} warm-up request answered {status}: {data[-500:]!r}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def aigate_command() -> list[str]:
    script = Path(sys.executable).parent / "aigate"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "services.gateway.cli"]


# ---------------------------------------------------------------------------------------------- report

def row(result: Result) -> str:
    mean = statistics.fmean(result.latencies) * 1000 if result.latencies else float("nan")
    return (f"{result.name:<8} {result.rps:>9.1f} {result.ok:>8} {result.errors:>7} {mean:>9.2f} "
            f"{result.percentile(0.50) * 1000:>8.2f} {result.percentile(0.99) * 1000:>8.2f} "
            f"{100 * result.client_cpu / (result.seconds + result.warmup):>10.0f}%")


def report_errors(result: Result) -> None:
    if result.errors:
        details = {**{f"HTTP {k}": v for k, v in result.statuses.items()}, **result.error_kinds}
        print(f"  {result.name} errors: {details}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per target (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of load first (default 2)")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.bare_server is not None:
        run_bare_server(args.bare_server)
        return 0

    print(f"gateway_overhead: DetectDominantLanguage, concurrency={args.concurrency}, "
          f"warmup={args.warmup:g}s, measured={args.seconds:g}s per target, cpus={os.cpu_count()}")
    print(f"gateway: aigate serve, AIGATE_LOG_LEVEL={GATEWAY_LOG_LEVEL}; bare: FastAPI sync endpoint + py3langid; "
          "inline: FastAPI async endpoint calling py3langid on the event loop; "
          "all uvicorn, 1 worker, log_config=None, access_log=False")

    workdir = Path(tempfile.mkdtemp(prefix="aigate-bench-"))
    results: dict[str, Result] = {}
    process = None
    try:
        # Bare endpoint first.
        port = free_port()
        log_path = workdir / "bare.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)],
                                       cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_http_ok(port, "/health", process)
            for name, path in (("bare", "/detect"), ("inline", "/detect-inline")):
                target = Target(name, port, bare_requests(port, path))
                warm_up(target)
                results[name] = run_load(target, args.concurrency, args.warmup, args.seconds)
        except Exception:
            print(f"bare server log:\n{tail(log_path)}", file=sys.stderr)
            raise
        finally:
            stop(process)
            process = None

        # Then the gateway.
        port = free_port()
        log_path = workdir / "gateway.log"
        env = {**os.environ, "AIGATE_LOG_LEVEL": GATEWAY_LOG_LEVEL}
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [*aigate_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--data-dir", str(workdir / "data")],
                cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_http_ok(port, "/ready", process, timeout=120)
            target = Target("gateway", port, gateway_requests(port))
            warm_up(target)
            results["gateway"] = run_load(target, args.concurrency, args.warmup, args.seconds)
        except Exception:
            print(f"gateway log:\n{tail(log_path)}", file=sys.stderr)
            raise
        finally:
            stop(process)
            process = None
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)

    gateway = results["gateway"]
    print()
    print(f"{'target':<8} {'req/s':>9} {'ok':>8} {'errors':>7} {'mean ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'client cpu':>11}")
    for result in results.values():
        print(row(result))
        report_errors(result)
    print()
    print("client cpu: the load generator's own CPU time over the run's wall time (100% = one core)")
    for name in ("bare", "inline"):
        bare = results[name]
        print(f"ratio gateway/{name}: {gateway.rps / bare.rps if bare.rps else 0.0:.3f}  "
              f"({gateway.rps:.1f} / {bare.rps:.1f} req/s)")
    fastest = max(results["bare"].rps, results["inline"].rps)
    ratio = gateway.rps / fastest if fastest else 0.0
    print(f"gateway_overhead: {ratio:.2f} of the faster bare endpoint's throughput (goal >= {GOAL:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
