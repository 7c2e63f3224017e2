"""Model worker processes (models/workers.py): calls run in other processes, errors come back with their type, a
worker that dies fails only its own call and is replaced, MicroBatcher hands its batches to the installed pool; and,
through a running gateway, Comprehend's real-time analyses served from the workers — a worker killed under a request
answers 503 ServiceUnavailable (which the SDKs retry), never a hang."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from models.batching import MicroBatcher
from models.workers import ModelWorkerError, ModelWorkerPool, install_pool
from services.gateway.errors import ServiceError
from tests.conftest import GatewayProcess
from tests.helpers import poll

_MARK: dict[str, str] = {}


def _init(mark: str) -> None:
    _MARK["mark"] = mark


def _marked(_: object) -> tuple[int, str | None]:
    return os.getpid(), _MARK.get("mark")


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _double_with_pid(items: list[int]) -> list[tuple[int, int]]:
    return [(os.getpid(), item * 2) for item in items]


def _refuse(_: object) -> None:
    raise ServiceError("UnsupportedLanguageException", "no model for 'xx'", 400)


def _unpicklable_result(_: object):
    return threading.Lock()


def _die(_: object) -> None:
    os._exit(3)


def process_state(pid: int) -> str:
    """The process's state letter from /proc (R, S, Z, ...), or "gone". A process ends when its last thread does: the
    main thread turns Z first while the others (a model library's) still hold its files open, so a process whose
    main thread is a zombie but another thread is not reads as that thread's state."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return "gone"
    states = []
    for tid in tids:
        try:
            states.append(Path(f"/proc/{pid}/task/{tid}/stat").read_text().split(")")[-1].split()[0])
        except FileNotFoundError:
            continue  # that thread has just ended
    return next((state for state in states if state not in ("Z", "X")), "Z" if states else "gone")


def wait_until_dead(pid: int, timeout: float = 10) -> None:
    """Until the kernel has ended the process, every thread of it (a zombie or gone): os.kill only sends the
    signal, and its pipes close when its last thread ends."""
    poll(lambda: process_state(pid), lambda state: state in ("Z", "X", "gone"), timeout, 0.01,
         what=f"process {pid} to end (its state letter, below)")


@pytest.fixture
def pool():
    pool = ModelWorkerPool(2, _init, ("ready",))
    yield pool
    pool.shutdown()


def test_calls_run_in_worker_processes_started_on_demand(pool):
    assert pool.pids() == []  # nothing starts before the first call
    first = pool.submit(_marked, None).result(timeout=60)
    assert first[0] != os.getpid() and first[1] == "ready"  # the initializer ran there
    # Two calls at once use both processes; later calls reuse them.
    pids = {future.result(timeout=60) for future in [pool.submit(_sleep_then_pid, 1.0) for _ in range(2)]}
    assert len(pids) == 2 and os.getpid() not in pids
    assert set(pool.pids()) == pids
    assert pool.submit(_sleep_then_pid, 0).result(timeout=30) in pids


def test_errors_come_back_with_their_type(pool):
    with pytest.raises(ServiceError) as caught:
        pool.submit(_refuse, None).result(timeout=60)
    assert caught.value.code == "UnsupportedLanguageException" and caught.value.status == 400
    with pytest.raises(ModelWorkerError, match="TypeError"):
        pool.submit(_unpicklable_result, None).result(timeout=30)
    with pytest.raises(ModelWorkerError, match="cannot send"):
        pool.submit(lambda item: item, 1).result(timeout=5)  # a lambda cannot reach another process
    assert pool.submit(_marked, None).result(timeout=30)[1] == "ready"  # the worker is still fine


def test_a_dead_worker_fails_its_call_and_is_replaced(pool):
    before = pool.submit(_sleep_then_pid, 0).result(timeout=60)
    with pytest.raises(ModelWorkerError, match="exited"):
        pool.submit(_die, None).result(timeout=60)
    after = pool.submit(_sleep_then_pid, 0).result(timeout=60)
    assert after != before and pool.pids() == [after]
    # An idle worker killed from outside: the very next call goes to a live process, not into the dead one's pipe.
    os.kill(after, signal.SIGKILL)
    wait_until_dead(after)
    assert pool.submit(_sleep_then_pid, 0).result(timeout=60) not in (before, after)


def test_shutdown_stops_the_processes():
    pool = ModelWorkerPool(1)
    pid = pool.submit(_sleep_then_pid, 0).result(timeout=60)
    pool.shutdown()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError):
        pool.submit(_sleep_then_pid, 0)


def test_microbatcher_sends_batches_to_the_installed_pool(pool):
    batcher = MicroBatcher(_double_with_pid, max_wait_ms=20, in_worker_processes=True)

    async def run() -> list[tuple[int, int]]:
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)))

    assert {pid for pid, _ in asyncio.run(run())} == {os.getpid()}  # no pool installed: a thread here
    install_pool(pool)
    try:
        results = asyncio.run(run())
    finally:
        install_pool(None)
    assert [value for _, value in results] == [0, 2, 4, 6, 8, 10]
    assert os.getpid() not in {pid for pid, _ in results}


# --- through a running gateway -------------------------------------------------------------------------------------

def worker_pids(gateway: GatewayProcess) -> list[int]:
    """The gateway's model worker processes (its children running multiprocessing's spawn entry point)."""
    pid = gateway.process.pid
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [child for child in children
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")]


@pytest.fixture(scope="module")
def worker_gateway(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("workers") / "data", env={"AIGATE_MODEL_WORKERS": "2"}).start()
    yield process
    process.stop()


def comprehend_client(gateway: GatewayProcess, attempts: int = 1):
    return gateway.client("comprehend", attempts=attempts, read_timeout=600, max_pool_connections=16)


TEXTS = [
    "Angela Merkel met Emmanuel Macron in Berlin to discuss the European Union budget.",
    "Tim Cook said that Apple will open a new campus in Austin, Texas.",
    "The Louvre in Paris welcomed nearly nine million visitors last year.",
    "Microsoft reported revenue of 62 billion dollars for the quarter.",
]


def test_gateway_serves_entities_from_worker_processes(worker_gateway):
    client = comprehend_client(worker_gateway)
    expected = [client.detect_entities(Text=text, LanguageCode="en")["Entities"] for text in TEXTS]
    assert {"PERSON", "LOCATION", "ORGANIZATION"} <= {e["Type"] for found in expected for e in found}
    assert len(worker_pids(worker_gateway)) >= 1

    # Concurrent requests (micro-batched across both workers) give exactly the one-at-a-time answers.
    results: list = [None] * 32
    def call(i: int) -> None:
        results[i] = client.detect_entities(Text=TEXTS[i % 4], LanguageCode="en")["Entities"]
    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert results == [expected[i % 4] for i in range(32)]
    assert len(worker_pids(worker_gateway)) == 2


def test_a_worker_killed_under_a_request_gives_503_then_service_resumes(worker_gateway):
    client = comprehend_client(worker_gateway)  # no retries: the SDK's default retries would hide the 503
    client.detect_entities(Text=TEXTS[0], LanguageCode="en")
    # A long document keeps a worker busy for seconds: kill every worker while it works.
    long_text = " ".join(TEXTS * 400)  # ~100 KB, the DetectEntities limit
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["result"] = client.detect_entities(Text=long_text[:99_000], LanguageCode="en")
        except Exception as error:  # noqa: BLE001 - inspected below
            outcome["error"] = error

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(1.0)
    killed = worker_pids(worker_gateway)
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive()
    assert "error" in outcome, "the document was analysed before the workers were killed"
    response = outcome["error"].response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["Error"]["Code"] == "ServiceUnavailable"
    # New workers take over.
    for pid in killed:
        wait_until_dead(pid)
    assert client.detect_entities(Text=TEXTS[1], LanguageCode="en")["Entities"]
    assert not set(killed) & set(worker_pids(worker_gateway))
