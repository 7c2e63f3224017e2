"""The model layer: weight resolution, the registry, micro-batching and the py3langid engine (real weights)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from pathlib import Path

import pytest

from models.batching import BatchResultMismatch, MicroBatcher
from models.catalog import CATALOG, EngineSpec, UnknownEngine, WeightsSpec
from models.cli import format_models_table, models_json
from models.langid import LangIdEngine
from models.registry import ModelRegistry
from models.weights import (
    ConfiguredWeightsMissing,
    DownloadsNotSupported,
    ResolvedWeights,
    WeightsNotFound,
    package_roots,
    resolve_weights,
)
from services.gateway.config import Settings

LANGID = CATALOG["langid"]
SENTENCES = {
    "en": "The weather is lovely today, so we are going for a long walk in the park.",
    "fr": "Il fait très beau aujourd'hui, alors nous allons faire une longue promenade dans le parc.",
    "de": "Das Wetter ist heute wunderschön, deshalb machen wir einen langen Spaziergang im Park.",
}


def make_settings(**overrides) -> Settings:
    values = {"models_dir": None, "model_paths": {}, "allow_downloads": False, "model_idle_unload_seconds": 900.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
def package_model() -> Path:
    return resolve_weights(LANGID, make_settings()).path


@pytest.fixture(scope="module")
def registry():
    with ModelRegistry(make_settings()) as reg:
        yield reg


def missing_spec(**weights) -> EngineSpec:
    spec = {"filenames": ("weights.bin",), "package": "aigate_no_such_package", "package_paths": ("weights.bin",)}
    spec.update(weights)
    return EngineSpec("ghost", "nothing", "none", "a model nobody ships", "MIT", WeightsSpec(**spec))


class CountingLangId(LangIdEngine):
    """The real engine, counting its loads and closes."""

    loads = 0
    closes = 0

    @classmethod
    def load(cls, weights, settings=None):
        cls.loads += 1
        return super().load(weights, settings)

    def close(self) -> None:
        type(self).closes += 1


# --- weight resolution -------------------------------------------------------------------------------------------


def test_package_weights_by_default(package_model):
    weights = resolve_weights(LANGID, make_settings())
    assert weights.source == "package"
    assert weights.path.is_file()
    assert weights.path.parent.parent in package_roots("py3langid")
    assert weights.path.name in LANGID.weights.filenames


def test_models_dir_copy_wins_over_package(tmp_path, package_model):
    copy = tmp_path / "langid" / package_model.name
    copy.parent.mkdir()
    shutil.copyfile(package_model, copy)
    weights = resolve_weights(LANGID, make_settings(models_dir=tmp_path))
    assert (weights.source, weights.path) == ("models_dir", copy)


def test_models_dir_without_the_file_falls_back_to_package(tmp_path):
    (tmp_path / "langid").mkdir()
    assert resolve_weights(LANGID, make_settings(models_dir=tmp_path)).source == "package"


def test_explicit_path_wins_over_models_dir(tmp_path, package_model):
    in_models_dir = tmp_path / "models" / "langid" / package_model.name
    in_models_dir.parent.mkdir(parents=True)
    shutil.copyfile(package_model, in_models_dir)
    explicit = tmp_path / "mine" / "my-langid.npz.xz"
    explicit.parent.mkdir()
    shutil.copyfile(package_model, explicit)

    settings = make_settings(models_dir=tmp_path / "models", model_paths={"langid": explicit})
    assert resolve_weights(LANGID, settings) == ResolvedWeights(explicit, "config")
    # A configured folder is searched for the engine's file name.
    folder = make_settings(model_paths={"langid": in_models_dir.parent})
    assert resolve_weights(LANGID, folder).path == in_models_dir


def test_missing_explicit_path_is_an_error_not_a_fallback(tmp_path):
    missing = tmp_path / "gone.npz.xz"
    with pytest.raises(ConfiguredWeightsMissing) as info:
        resolve_weights(LANGID, make_settings(model_paths={"langid": missing}))
    assert info.value.engine == "langid"
    assert str(missing) in str(info.value)
    assert isinstance(info.value, WeightsNotFound)


def test_nothing_found_lists_every_attempt(tmp_path):
    with pytest.raises(WeightsNotFound) as info:
        resolve_weights(missing_spec(), make_settings(models_dir=tmp_path))
    attempts = info.value.attempts
    assert len(attempts) == 3
    assert str(tmp_path / "ghost" / "weights.bin") in attempts[0]
    assert "aigate_no_such_package" in attempts[1] and "not installed" in attempts[1]
    assert attempts[2].startswith("hub:")
    assert "'ghost'" in str(info.value)
    for attempt in attempts:
        assert attempt in str(info.value)


def test_installed_package_without_the_file(tmp_path):
    spec = missing_spec(package="py3langid", package_paths=("data/absent.bin",))
    with pytest.raises(WeightsNotFound) as info:
        resolve_weights(spec, make_settings())
    assert any("absent.bin" in attempt and "is installed" in attempt for attempt in info.value.attempts)


def test_hub_only_when_downloads_are_allowed():
    spec = missing_spec(hub_id="someone/ghost-model")
    with pytest.raises(WeightsNotFound) as info:
        resolve_weights(spec, make_settings())
    assert "downloads are off" in info.value.attempts[-1]
    with pytest.raises(DownloadsNotSupported, match="'ghost'.*not supported"):
        resolve_weights(spec, make_settings(allow_downloads=True))


# --- registry ----------------------------------------------------------------------------------------------------


def test_unknown_engine(registry):
    with pytest.raises(UnknownEngine, match="'nope'.*langid"):
        registry.get("nope")


def test_concurrent_first_gets_load_once():
    CountingLangId.loads = 0
    reg = ModelRegistry(make_settings(), engine_classes={"langid": CountingLangId})
    barrier = threading.Barrier(8)
    engines, errors = [], []

    def worker():
        barrier.wait()
        try:
            engines.append(reg.get("langid"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert CountingLangId.loads == 1
    assert len(engines) == 8 and all(engine is engines[0] for engine in engines)
    assert isinstance(engines[0], CountingLangId)


def test_idle_sweep_unloads_without_sleeping():
    now = [1000.0]
    CountingLangId.loads = CountingLangId.closes = 0
    reg = ModelRegistry(
        make_settings(model_idle_unload_seconds=60), engine_classes={"langid": CountingLangId}, clock=lambda: now[0]
    )
    assert reg.sweep() == [] and not reg.is_loaded("langid")
    engine = reg.get("langid")
    assert reg.loaded() == ["langid"]

    now[0] += 30
    assert reg.get("langid") is engine  # use refreshes the idle clock
    assert reg.sweep(now[0] + 59) == []
    with reg.use("langid"):  # an engine in use is never swept
        assert reg.sweep(now[0] + 3600) == []
    assert reg.sweep(now[0] + 60) == ["langid"]
    assert not reg.is_loaded("langid") and CountingLangId.closes == 1
    assert reg.unload("langid") is False

    assert reg.get("langid") is not engine
    assert CountingLangId.loads == 2
    assert reg.unload("langid") is True and CountingLangId.closes == 2


def test_idle_unload_disabled_with_zero():
    reg = ModelRegistry(make_settings(model_idle_unload_seconds=0))
    reg.get("langid")
    assert reg.sweep(10**9) == [] and reg.is_loaded("langid")


def test_background_sweeper_thread_starts_and_stops():
    reg = ModelRegistry(make_settings(model_idle_unload_seconds=600))
    thread = reg.start_idle_sweeper(interval=0.01)
    assert thread.daemon and thread.is_alive()
    assert reg.start_idle_sweeper() is thread
    reg.close()
    assert not thread.is_alive()


def test_describe(registry, tmp_path):
    registry.unload("langid")
    row = next(r for r in registry.describe() if r["name"] == "langid")  # other engines are in the catalog too
    assert row["name"] == "langid"
    assert row["capability"] == "language-identification"
    assert row["family"] == "py3langid"
    assert row["licence"] == "BSD-3-Clause"
    assert row["weights_source"] == "package" and Path(row["weights_path"]).is_file()
    assert row["weights_error"] is None and row["loaded"] is False

    registry.get("langid")
    row = next(r for r in registry.describe() if r["name"] == "langid")
    assert row["loaded"] is True and row["idle_seconds"] >= 0

    ghost = ModelRegistry(make_settings(models_dir=tmp_path), catalog={"ghost": missing_spec()})
    (row,) = ghost.describe()
    assert row["weights_source"] is None and row["weights_path"] is None and row["loaded"] is False
    assert "aigate_no_such_package" in row["weights_error"] and len(row["weights_attempts"]) == 3


def test_models_table_and_json(registry):
    settings = make_settings()
    registry.get("langid")
    table = format_models_table(settings, registry)
    header, *lines = table.splitlines()
    line = next(text for text in lines if text.startswith("langid "))  # other engines are in the catalog too
    assert header.split()[:4] == ["ENGINE", "CAPABILITY", "FAMILY", "WEIGHTS"]
    assert line.split()[:6] == ["langid", "language-identification", "py3langid", "package", "BSD-3-Clause", "yes"]
    rows = json.loads(models_json(settings))
    assert rows[0]["name"] == "langid" and rows[0]["loaded"] is False


def test_every_catalog_entry_records_a_licence():
    for spec in CATALOG.values():
        assert spec.licence and spec.capability and spec.engine


# --- the langid engine -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_langid_ranks_languages(registry, code):
    ranking = registry.get("langid").rank(SENTENCES[code])
    assert len(ranking) == 3
    assert ranking[0][0] == code and ranking[0][1] > 0.9
    probs = [prob for _, prob in ranking]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
    assert all(isinstance(prob, float) for prob in probs)


def test_langid_classify_many(registry):
    engine = registry.get("langid")
    texts = [SENTENCES["de"], SENTENCES["en"], SENTENCES["fr"]]
    assert [ranks[0][0] for ranks in engine.classify_many(texts, top=1)] == ["de", "en", "fr"]
    assert len(engine.rank(SENTENCES["en"], top=None)) == len(engine.languages) > 100


# --- micro-batching ----------------------------------------------------------------------------------------------


def test_microbatcher_groups_concurrent_submits():
    batches, threads = [], set()

    def double(items):
        batches.append(list(items))
        threads.add(threading.get_ident())
        return [item * 2 for item in items]

    batcher = MicroBatcher(double, max_batch_size=8, max_wait_ms=20)

    async def main():
        return await asyncio.gather(*(batcher.submit(i) for i in range(20)))

    assert asyncio.run(main()) == [i * 2 for i in range(20)]
    assert batcher.calls == len(batches) < 20
    assert all(len(batch) <= 8 for batch in batches)
    assert sorted(item for batch in batches for item in batch) == list(range(20))
    assert threading.get_ident() not in threads  # fn ran off the event loop

    # The same batcher works in another event loop afterwards.
    assert asyncio.run(main()) == [i * 2 for i in range(20)]


def test_microbatcher_error_fails_the_whole_batch():
    def broken(items):
        raise RuntimeError("model exploded")

    batcher = MicroBatcher(broken, max_wait_ms=10)

    async def main():
        return await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert len(results) == 5
    assert all(isinstance(result, RuntimeError) and "exploded" in str(result) for result in results)
    assert batcher.calls == 1


def test_microbatcher_rejects_wrong_result_count():
    batcher = MicroBatcher(lambda items: items[:-1], max_wait_ms=10)

    async def main():
        return await asyncio.gather(*(batcher.submit(i) for i in range(4)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(result, BatchResultMismatch) for result in results)
    assert "3 results for 4 items" in str(results[0])


def test_microbatcher_with_langid(registry):
    engine = registry.get("langid")
    batcher = MicroBatcher(engine.classify_many, max_wait_ms=10)

    async def main():
        return await asyncio.gather(*(batcher.submit(SENTENCES[code]) for code in ("fr", "en", "de")))

    assert [ranking[0][0] for ranking in asyncio.run(main())] == ["fr", "en", "de"]
    assert batcher.calls == 1
