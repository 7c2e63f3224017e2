"""Shared engine instances: lazy, thread-safe loading; idle unload; a description for `aigate models list`."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from models.catalog import CATALOG, EngineSpec, get_spec
from models.weights import ResolvedWeights, WeightsError, resolve_weights

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What an engine class provides: `load` (or a constructor taking the same arguments); `close()` is optional."""

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings) -> Engine: ...


@dataclass
class _Slot:
    spec: EngineSpec
    lock: threading.Lock = field(default_factory=threading.Lock)
    engine: Any = None
    weights: ResolvedWeights | None = None
    loaded_at: float | None = None
    last_used: float | None = None
    users: int = 0


def engine_class(spec: EngineSpec) -> type:
    """Import the `module:Class` named by `spec.engine` (the single name → class mapping is the catalog)."""
    if not spec.engine or ":" not in spec.engine:
        raise ValueError(f"engine {spec.name!r} names no implementation (EngineSpec.engine = 'module:Class')")
    module_name, _, attribute = spec.engine.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class ModelRegistry:
    """Holds one instance per engine, shared by every service.

    `catalog` and `engine_classes` (name → class, overriding `EngineSpec.engine`) default to the project catalog;
    `clock` is the monotonic time source used for idle tracking.
    """

    def __init__(
        self,
        settings: ModelSettings,
        *,
        catalog: Mapping[str, EngineSpec] | None = None,
        engine_classes: Mapping[str, type] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.catalog = CATALOG if catalog is None else catalog
        self._engine_classes = dict(engine_classes or {})
        self._clock = clock
        self._slots = {name: _Slot(spec) for name, spec in self.catalog.items()}
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def _slot(self, name: str) -> _Slot:
        if name not in self._slots:
            get_spec(name, self.catalog)  # raises UnknownEngine
        return self._slots[name]

    def resolve(self, name: str) -> ResolvedWeights:
        return resolve_weights(self._slot(name).spec, self.settings)

    def get(self, name: str) -> Any:
        """The loaded engine `name`, loading it on first use (concurrent first calls load it once)."""
        slot = self._slot(name)
        with slot.lock:
            if slot.engine is None:
                self._load(slot)
            slot.last_used = self._clock()
            return slot.engine

    @contextmanager
    def use(self, name: str) -> Iterator[Any]:
        """`get`, and keep the idle sweep from unloading the engine until the block ends."""
        slot = self._slot(name)
        with slot.lock:
            if slot.engine is None:
                self._load(slot)
            slot.users += 1
            engine = slot.engine
        try:
            yield engine
        finally:
            with slot.lock:
                slot.users -= 1
                slot.last_used = self._clock()

    def _load(self, slot: _Slot) -> None:
        spec = slot.spec
        started = time.perf_counter()
        weights = resolve_weights(spec, self.settings)
        cls = self._engine_classes.get(spec.name) or engine_class(spec)
        loader = getattr(cls, "load", cls)
        engine = loader(weights, self.settings)
        slot.engine, slot.weights, slot.loaded_at = engine, weights, self._clock()
        log.info(
            "loaded engine %s from %s (%s) in %.2f s",
            spec.name, weights.path, weights.source, time.perf_counter() - started,
        )

    def is_loaded(self, name: str) -> bool:
        return self._slot(name).engine is not None

    def loaded(self) -> list[str]:
        return [name for name, slot in self._slots.items() if slot.engine is not None]

    def unload(self, name: str) -> bool:
        """Drop (and `close()`) engine `name`; False when it was not loaded."""
        slot = self._slot(name)
        with slot.lock:
            return self._unload(slot)

    def _unload(self, slot: _Slot) -> bool:
        engine = slot.engine
        if engine is None:
            return False
        slot.engine, slot.weights, slot.loaded_at, slot.last_used = None, None, None, None
        close = getattr(engine, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing engine %s failed", slot.spec.name)
        log.info("unloaded engine %s", slot.spec.name)
        return True

    def sweep(self, now: float | None = None) -> list[str]:
        """Unload engines unused for `model_idle_unload_seconds` (<= 0: never); returns the names unloaded.

        Engines inside a `use()` block, or being loaded right now, are skipped.
        """
        idle = self.settings.model_idle_unload_seconds
        if idle <= 0:
            return []
        now = self._clock() if now is None else now
        unloaded = []
        for name, slot in self._slots.items():
            if slot.engine is None or not slot.lock.acquire(blocking=False):
                continue
            try:
                if (
                    slot.engine is not None
                    and slot.users == 0
                    and slot.last_used is not None
                    and now - slot.last_used >= idle
                    and self._unload(slot)
                ):
                    unloaded.append(name)
            finally:
                slot.lock.release()
        return unloaded

    def start_idle_sweeper(self, interval: float | None = None) -> threading.Thread:
        """Run `sweep()` every `interval` seconds (default: a quarter of the idle time, 1–60 s) in a daemon thread."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return self._sweeper
        if interval is None:
            interval = min(60.0, max(1.0, self.settings.model_idle_unload_seconds / 4))
        self._stop.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_forever, args=(interval,), name="aigate-model-sweeper", daemon=True
        )
        self._sweeper.start()
        return self._sweeper

    def _sweep_forever(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:
                log.exception("idle sweep of models failed")

    def stop_idle_sweeper(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join()
            self._sweeper = None

    def close(self) -> None:
        """Stop the sweeper and unload every engine."""
        self.stop_idle_sweeper()
        for name in self._slots:
            self.unload(name)

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def describe(self) -> list[dict[str, Any]]:
        """One row per engine: what it is, where its weights are (or why they are missing), whether it is loaded."""
        now = self._clock()
        rows = []
        for name, slot in self._slots.items():
            spec = slot.spec
            weights, error, attempts = slot.weights, None, None
            if weights is None:
                try:
                    weights = resolve_weights(spec, self.settings)
                except WeightsError as exc:
                    error, attempts = str(exc), getattr(exc, "attempts", None)
            last_used = slot.last_used
            rows.append(
                {
                    "name": name,
                    "capability": spec.capability,
                    "family": spec.family,
                    "description": spec.description,
                    "licence": spec.licence,
                    "weights_source": weights.source if weights else None,
                    "weights_path": str(weights.path) if weights else None,
                    "weights_error": error,
                    "weights_attempts": attempts,
                    "loaded": slot.engine is not None,
                    "idle_seconds": None if last_used is None else round(now - last_used, 3),
                }
            )
        return rows
