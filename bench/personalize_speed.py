"""Personalize speed: GetRecommendations through a running gateway next to the same model scored in this process,
training time and memory as the interactions grow, and how soon PutEvents changes a user's recommendations.

    .venv/bin/python bench/personalize_speed.py [--requests 4000] [--concurrency 16] [--sizes 250000,500000,1000000]

- A fresh gateway imports MovieLens-100k from its blob store (CSV files with the schemas of tests/test_personalize.py),
  trains aws-user-personalization and serves it from a campaign. GetRecommendations (25 items, users drawn from all
  943, each thread with its own boto3 client) is timed one at a time and at concurrency 16: p50 / p99 latency and
  requests per second. Beside it, TrainedModel.recommend on the very model file the gateway trained (loaded here),
  for the same users, single thread and 16 threads. Overhead = in-process requests/s / gateway requests/s - 1: an HTTP
  round trip through botocore (signing, JSON, a database read of the campaign and the user's events) costs far more
  than the ~1 ms numpy call, so that ratio is printed with the absolute figures, not hidden in them.
- train() of aws-user-personalization (defaults: EASE) on ML-100k and on synthetic power-law sets of 250k, 500k and
  1M interactions (5,000 items, 20 interactions per user on average, so 12.5k / 25k / 50k users), each in a child
  process: wall seconds, peak RSS while training above the child's RSS before it (VmHWM reset just before, or
  getrusage), and tracemalloc's peak of a second, traced training.
- PutEvents to changed recommendations: for a new user, GetRecommendations (the popular items), then PutEvents of a
  few items and GetRecommendations until the answer differs; the time from the PutEvents call's start to that
  answer, 20 times (goal < 1 s).
Ends with: personalize_speed: GetRecommendations p99 <X> ms (goal <= 50 ms), X at concurrency 16.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for folder in (str(BENCH), str(ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from forecast_quality import start_gateway

GOAL_P99_MS = 50.0
GOAL_OVERHEAD = 0.15
GOAL_EVENTS_S = 1.0
RECIPE = "aws-user-personalization"
ROLE = "arn:aws:iam::000000000000:role/bench"
ACCOUNT = "000000000000"  # the gateway's default account (AIGATE_AUTH_MODE none)
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")

# The schemas tests/test_personalize.py imports ML-100k with.
INTERACTIONS_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
               {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "ITEM_ID", "type": "string"},
               {"name": "GENRES", "type": ["null", "string"], "categorical": True},
               {"name": "YEAR", "type": ["null", "int"]},
               {"name": "TITLE", "type": ["null", "string"], "textual": True}], "version": "1.0"}


# ------------------------------------------------------------------------------------------------ the gateway flow


def movielens_frames():
    """ML-100k (models.recommend.movielens_100k) as the two CSV files' frames, in the schemas' column order, and the
    RecommenderData the in-process runs train on: the same rows and columns the gateway imports."""
    from models.recommend import RecommenderData, movielens_100k

    data = movielens_100k()
    interactions = data.interactions[["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]]
    items = data.items.rename(columns={"RELEASE_YEAR": "YEAR"})
    items = items.assign(YEAR=items["YEAR"].astype("Int64"))[["ITEM_ID", "GENRES", "YEAR", "TITLE"]]
    return interactions, items, RecommenderData(interactions, items, None, ("TITLE",))


def _csv(frame: pd.DataFrame) -> bytes:
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode()


def clients(url: str, *services: str, timeout: float = 120, pool: int = 10):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()  # one session per caller: boto3's default session is not thread-safe
    config = Config(retries={"total_max_attempts": 1}, read_timeout=timeout, max_pool_connections=pool)
    made = [session.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                           aws_secret_access_key="bench", config=config) for service in services]
    return made[0] if len(made) == 1 else made


def wait(describe, member: str, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = describe()[member]
        if found["status"] in TERMINAL:
            if found["status"] != "ACTIVE":
                raise RuntimeError(f"{member}: {found['status']}: {found.get('failureReason')}")
            return found
        time.sleep(0.2)
    raise TimeoutError(f"{member} still not ACTIVE")


def imported_group(url: str, interactions: pd.DataFrame, items: pd.DataFrame, name: str = "ml100k") -> dict:
    """Dataset group, schemas, datasets and both CSV imports from the gateway's blob store; seconds it took."""
    personalize = clients(url, "personalize")
    started = time.perf_counter()
    for key, frame in (("ratings.csv", interactions), ("movies.csv", items)):
        requests.put(f"{url}/v1/blobs/bench/{name}/{key}", data=_csv(frame), timeout=120).raise_for_status()
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    made = {"group": group}
    for kind, schema, key in (("Interactions", INTERACTIONS_SCHEMA, "ratings.csv"), ("Items", ITEMS_SCHEMA,
                                                                                      "movies.csv")):
        schema_arn = personalize.create_schema(name=f"{name}-{kind.lower()}", schema=json.dumps(schema))["schemaArn"]
        dataset = personalize.create_dataset(name=f"{name}-{kind.lower()}", schemaArn=schema_arn,
                                             datasetGroupArn=group, datasetType=kind)["datasetArn"]
        job = personalize.create_dataset_import_job(
            jobName=f"{name}-{kind.lower()}", datasetArn=dataset, roleArn=ROLE,
            dataSource={"dataLocation": f"s3://bench/{name}/{key}"})["datasetImportJobArn"]
        wait(lambda job=job: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
        made[kind] = dataset
    made["import_seconds"] = time.perf_counter() - started
    return made


def trained_version(url: str, group: str, name: str = "ml100k-up", hyperparameters: dict | None = None) -> dict:
    """A solution of aws-user-personalization and its first version, trained; seconds from CreateSolutionVersion
    to ACTIVE (the service's training: the metrics' split and training, then the full training)."""
    personalize = clients(url, "personalize")
    extra = {"solutionConfig": {"algorithmHyperParameters": hyperparameters}} if hyperparameters else {}
    solution = personalize.create_solution(name=name, datasetGroupArn=group,
                                           recipeArn=f"arn:aws:personalize:::recipe/{RECIPE}", **extra)["solutionArn"]
    started = time.perf_counter()
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait(lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion")
    return {"solution": solution, "version": version, "train_seconds": time.perf_counter() - started}


def model_file(data_dir: str, version_arn: str) -> Path:
    """The trained model the gateway wrote for a solution version (services/personalize/store.py data_path)."""
    digest = hashlib.sha256(version_arn.encode()).hexdigest()[:32]
    path = Path(data_dir) / "personalize" / ACCOUNT / f"{digest}.model"
    if not path.exists():  # the layout changed: the only model file of this fresh gateway is the one
        found = list((Path(data_dir) / "personalize").glob("*/*.model"))
        if len(found) != 1:
            raise FileNotFoundError(f"no model file of {version_arn} under {data_dir}/personalize")
        path = found[0]
    return path


# ------------------------------------------------------------------------------------------------ latency


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def gateway_load(url: str, campaign: str, users: list[str], concurrency: int) -> tuple[list[float], float]:
    """GetRecommendations for each user, spread over `concurrency` threads with a client each: latencies, wall."""
    made = [clients(url, "personalize-runtime") for _ in range(concurrency)]
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        runtime = made[index]
        mine = []
        barrier.wait()
        try:
            for user in users[index::concurrency]:
                started = time.perf_counter()
                answer = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
                mine.append(time.perf_counter() - started)
                assert len(answer["itemList"]) == 25
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return latencies, wall


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_load(model, users: list[str], concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        mine = []
        barrier.wait()
        for user in users[index::concurrency]:
            started = time.perf_counter()
            model.recommend(user, 25)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def line(label: str, latencies: list[float], wall: float) -> str:
    return (f"{label:<42}{statistics.median(latencies) * 1000:>9.2f}{percentile(latencies, 0.99) * 1000:>9.2f}"
            f"{len(latencies) / wall:>12.0f}")


# ------------------------------------------------------------------------------------------------ events


def events_to_change(url: str, group: str, campaign: str, item_ids: list[str], repeats: int = 20,
                     per_user: int = 4, seed: int = 0) -> list[dict]:
    """For `repeats` new users: GetRecommendations, then PutEvents of `per_user` items, then GetRecommendations
    until the answer differs. Per user: seconds from the PutEvents call's start to the changed answer, the
    PutEvents call's own seconds, and how many GetRecommendations it took."""
    personalize, events, runtime = clients(url, "personalize", "personalize-events", "personalize-runtime")
    tracker = personalize.create_event_tracker(name="bench-tracker", datasetGroupArn=group)
    wait(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"]), "eventTracker")
    rng = np.random.default_rng(seed)
    out = []
    for repeat in range(repeats):
        user = f"bench-new-user-{repeat}"
        before = [entry["itemId"] for entry in
                  runtime.get_recommendations(campaignArn=campaign, userId=user)["itemList"]]
        chosen = [str(item) for item in rng.choice(item_ids, size=per_user, replace=False)]
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        events.put_events(trackingId=tracker["trackingId"], userId=user, sessionId=f"session-{repeat}", eventList=[
            {"eventType": "rating", "itemId": item, "eventValue": 5.0, "sentAt": now + dt.timedelta(seconds=k)}
            for k, item in enumerate(chosen)])
        put_seconds = time.perf_counter() - started
        calls = 0
        while True:
            calls += 1
            after = [entry["itemId"] for entry in
                     runtime.get_recommendations(campaignArn=campaign, userId=user)["itemList"]]
            if after != before or time.perf_counter() - started > 30:
                break
        out.append({"seconds": time.perf_counter() - started, "put": put_seconds, "calls": calls,
                    "changed": after != before})
    return out


# ------------------------------------------------------------------------------------------------ training growth


def synthetic(n: int, n_items: int = 5000, per_user: int = 20, seed: int = 0):
    """n interactions, power-law over items (weight 1 / (rank + 10)^0.9) and over users (Pareto-like activity)."""
    from models.recommend import RecommenderData

    rng = np.random.default_rng(seed)
    n_users = max(1, n // per_user)
    item_weight = 1.0 / (np.arange(n_items) + 10.0) ** 0.9
    user_weight = 1.0 / (np.arange(n_users) + 5.0) ** 0.5
    items = rng.choice(n_items, size=n, p=item_weight / item_weight.sum())
    users = rng.choice(n_users, size=n, p=user_weight / user_weight.sum())
    frame = pd.DataFrame({"USER_ID": users.astype(str), "ITEM_ID": items.astype(str),
                          "TIMESTAMP": rng.integers(0, 10**8, size=n)})
    return RecommenderData(frame)


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) / 1024 for line in handle if line.startswith(key + ":"))


def _reset_peak() -> bool:
    """Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def train_child(size: str) -> None:
    """Run in a child process: one timed train() and one traced by tracemalloc; JSON on the last stdout line.
    RSS: the peak while training (VmHWM, reset just before it) minus the RSS before it; where the peak cannot be
    reset, getrusage's lifetime peak minus the peak before training (0 when loading the data peaked higher)."""
    import resource
    import tracemalloc

    from models.recommend import train

    if size == "ml100k":
        data = movielens_frames()[2]
    else:
        data = synthetic(int(size))
    frame = data.interactions
    train(RECIPE, synthetic(2000, n_items=100), seed=0)  # lazy imports and first-call costs, paid untimed
    resettable = _reset_peak()
    before = _status_mib("VmRSS") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    model = train(RECIPE, data, seed=0)
    seconds = time.perf_counter() - started
    peak_rss = _status_mib("VmHWM") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stored = sum(array.nbytes for array in model.arrays.values()) / 2**20
    del model
    tracemalloc.start()
    model = train(RECIPE, data, seed=0)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(json.dumps({"interactions": len(frame), "users": int(frame["USER_ID"].nunique()),
                      "items": int(frame["ITEM_ID"].nunique()), "seconds": seconds, "rss_before": before,
                      "rss_peak": peak_rss, "traced_peak": traced, "model_mib": stored,
                      "algorithm": model.algorithm}))


def training_growth(sizes: list[str]) -> list[dict]:
    rows = []
    for size in sizes:
        done = subprocess.run([sys.executable, __file__, "--train-child", size], cwd=ROOT, capture_output=True,
                              text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"training child {size} failed: {done.stderr[-2000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="GetRecommendations at concurrency")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sizes", default="250000,500000,1000000", help="synthetic interaction counts")
    parser.add_argument("--train-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_child:
        train_child(args.train_child)
        return
    from models.recommend import TrainedModel

    interactions, items, _ = movielens_frames()
    user_ids = sorted(interactions["USER_ID"].unique())
    rng = np.random.default_rng(0)
    users = [str(user) for user in rng.choice(user_ids, size=args.requests)]
    sequential = users[:500]
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        process, url = start_gateway(data_dir)
        boot = time.perf_counter() - started
        try:
            made = imported_group(url, interactions, items)
            version = trained_version(url, made["group"])
            personalize, runtime = clients(url, "personalize", "personalize-runtime")
            started = time.perf_counter()
            campaign = personalize.create_campaign(name="ml100k-up", solutionVersionArn=version["version"],
                                                   minProvisionedTPS=1)["campaignArn"]
            wait(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")
            campaign_seconds = time.perf_counter() - started
            started = time.perf_counter()
            runtime.get_recommendations(campaignArn=campaign, userId=users[0])
            first_seconds = time.perf_counter() - started
            model = TrainedModel.load(str(model_file(data_dir, version["version"])))
            # The gateway's answers are the in-process model's (the same file, no events yet for these users).
            same = sum([entry["itemId"] for entry in runtime.get_recommendations(
                campaignArn=campaign, userId=user)["itemList"]] == [item for item, _ in model.recommend(user, 25)]
                for user in users[:50])
            gateway_load(url, campaign, users[:200], args.concurrency)  # warm-up: connections, caches
            one_latencies, one_wall = gateway_load(url, campaign, sequential, 1)
            client_cpu, gateway_cpu = time.process_time(), process_cpu_seconds(process.pid)
            many_latencies, many_wall = gateway_load(url, campaign, users, args.concurrency)
            client_cpu = (time.process_time() - client_cpu) / len(users)
            gateway_cpu = (process_cpu_seconds(process.pid) - gateway_cpu) / len(users)
            changes = events_to_change(url, made["group"], campaign, items["ITEM_ID"].tolist())
        finally:
            process.terminate()
            process.wait(30)
    local_load(model, users[:200], 1)  # warm-up
    local_one, local_one_wall = local_load(model, users, 1)
    local_many, local_many_wall = local_load(model, users, args.concurrency)
    growth = training_growth(["ml100k"] + [size for size in args.sizes.split(",") if size])

    print(f"MovieLens-100k through a fresh gateway ({len(interactions)} interactions, {len(items)} items, "
          f"{len(user_ids)} users), recipe {RECIPE} ({model.algorithm})")
    print(f"gateway start {boot:.1f} s; upload + 2 imports {made['import_seconds']:.1f} s; solution version "
          f"(metrics + training) {version['train_seconds']:.1f} s; campaign {campaign_seconds:.1f} s; first "
          f"GetRecommendations (loads the model) {first_seconds * 1000:.0f} ms")
    print(f"gateway answers equal to TrainedModel.recommend on the gateway's model file: {same}/50 users")
    print(f"\nGetRecommendations, 25 items, users drawn from all {len(user_ids)} "
          f"({len(sequential)} calls one at a time, {len(users)} at concurrency {args.concurrency}):")
    print(f"{'':<42}{'p50 ms':>9}{'p99 ms':>9}{'requests/s':>12}")
    print(line("gateway, 1 client", one_latencies, one_wall))
    print(line(f"gateway, {args.concurrency} clients", many_latencies, many_wall))
    print(line("in-process recommend(), 1 thread", local_one, local_one_wall))
    print(line(f"in-process recommend(), {args.concurrency} threads", local_many, local_many_wall))
    gateway_rps = len(many_latencies) / many_wall
    local_rps = max(len(local_one) / local_one_wall, len(local_many) / local_many_wall)
    per_call = statistics.median(one_latencies) - statistics.median(local_one)
    print(f"throughput overhead at concurrency {args.concurrency}: in-process {local_rps:.0f} / gateway "
          f"{gateway_rps:.0f} requests/s - 1 = {local_rps / gateway_rps - 1:+.2f} (goal <= {GOAL_OVERHEAD:+.2f}); "
          f"one at a time the gateway adds {per_call * 1000:.1f} ms per call (p50) to a "
          f"{statistics.median(local_one) * 1000:.2f} ms recommend()")

    cores = os.cpu_count() or 1
    ceiling = cores / (client_cpu + gateway_cpu)
    print(f"CPU per GetRecommendations at concurrency {args.concurrency}: gateway {gateway_cpu * 1000:.2f} ms, this "
          f"boto3 client {client_cpu * 1000:.2f} ms; on these {cores} cores, shared by both, at most {ceiling:.0f} "
          f"requests/s, so at concurrency {args.concurrency} a mean latency of at least "
          f"{args.concurrency / ceiling * 1000:.0f} ms (Little's law)")

    print("\ntrain() of aws-user-personalization, each in a fresh process "
          "(RSS: peak RSS while training above the RSS before it; traced: tracemalloc peak of a second training)")
    print(f"{'data':<16}{'interactions':>13}{'users':>8}{'items':>7}{'algorithm':>10}{'train s':>9}"
          f"{'RSS +MiB':>10}{'traced MiB':>11}{'model MiB':>10}")
    for size, row in zip(["ML-100k"] + [f"synthetic {int(s) // 1000}k" for s in args.sizes.split(",") if s], growth):
        print(f"{size:<16}{row['interactions']:>13,}{row['users']:>8,}{row['items']:>7,}{row['algorithm']:>10}"
              f"{row['seconds']:>9.2f}{row['rss_peak'] - row['rss_before']:>10.0f}{row['traced_peak']:>11.0f}"
              f"{row['model_mib']:>10.0f}")
    synthetic_rows = growth[1:]
    if len(synthetic_rows) >= 2:
        low, high = synthetic_rows[0], synthetic_rows[-1]
        factor = high["interactions"] / low["interactions"]
        print(f"from {low['interactions']:,} to {high['interactions']:,} interactions (x{factor:.0f}): train time "
              f"x{high['seconds'] / low['seconds']:.1f}, traced peak x{high['traced_peak'] / low['traced_peak']:.1f}, "
              f"RSS growth x{(high['rss_peak'] - high['rss_before']) / max(low['rss_peak'] - low['rss_before'], 1):.1f}"
              f" (EASE's item x item solve is fixed by the 5,000 items; what grows is the user x item matrix and "
              f"the sequences)")

    seconds = [change["seconds"] for change in changes]
    first_after = [change["seconds"] - change["put"] for change in changes if change["calls"] == 1]
    print(f"\nPutEvents (4 items for a new user) to a changed GetRecommendations, {len(changes)} users: "
          f"p50 {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms (goal < "
          f"{GOAL_EVENTS_S:.0f} s)")
    print(f"  PutEvents alone p50 {statistics.median([c['put'] for c in changes]) * 1000:.0f} ms; changed on the "
          f"first GetRecommendations after it for {len(first_after)}/{len(changes)} users, that call p50 "
          f"{statistics.median(first_after or [float('nan')]) * 1000:.0f} ms (vs {statistics.median(one_latencies) * 1000:.0f} "
          f"ms without new events)")
    print(f"personalize_speed: GetRecommendations p99 {percentile(many_latencies, 0.99) * 1000:.1f} ms "
          f"(goal <= {GOAL_P99_MS:.0f} ms)")


if __name__ == "__main__":
    main()
