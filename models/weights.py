"""Offline weight resolution: explicit config path → models folder → shipping Python package → operating-system
package path → hub (opt-in)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from models.catalog import EngineSpec

if TYPE_CHECKING:
    from models.settings import ModelSettings

WeightsSource = Literal["config", "models_dir", "package", "system", "hub"]


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    source: WeightsSource


class WeightsError(Exception):
    """Weights for an engine cannot be provided."""

    def __init__(self, engine: str, message: str) -> None:
        super().__init__(message)
        self.engine = engine


class WeightsNotFound(WeightsError, LookupError):
    """No place holds the engine's weights; `attempts` lists every place tried and why it failed."""

    def __init__(self, engine: str, attempts: list[str], message: str | None = None) -> None:
        self.attempts = list(attempts)
        tried = "".join(f"\n  - {attempt}" for attempt in attempts)
        super().__init__(engine, (message or f"no weights found for engine {engine!r}; tried:") + tried)


class ConfiguredWeightsMissing(WeightsNotFound):
    """`model_paths[engine]` is set but names nothing usable: an error, never a silent fallback."""


class DownloadsNotSupported(WeightsError):
    """Downloads are allowed, but fetching this engine's weights from a hub is not implemented."""


def resolve_weights(spec: EngineSpec, settings: ModelSettings) -> ResolvedWeights:
    """Find `spec`'s weights offline, in the documented order; raise `WeightsError` when none can be used."""
    name, weights = spec.name, spec.weights

    explicit = settings.model_paths.get(name)
    if explicit is not None:
        return ResolvedWeights(_explicit_path(spec, Path(explicit).expanduser()), "config")

    attempts: list[str] = []
    if settings.models_dir is None:
        attempts.append("models_dir: not set (AIGATE_MODELS_DIR)")
    else:
        folder = Path(settings.models_dir).expanduser() / name
        for filename in weights.filenames:
            candidate = folder / filename
            if candidate.exists():
                return ResolvedWeights(candidate, "models_dir")
            attempts.append(f"models_dir: {candidate} does not exist")

    if weights.package is None:
        attempts.append("package: none ships this engine's weights")
    else:
        roots = package_roots(weights.package)
        if not roots:
            attempts.append(f"package: Python package {weights.package!r} is not installed")
        for root in roots:
            for relative in weights.package_paths:
                candidate = root / relative
                if candidate.exists():
                    return ResolvedWeights(candidate, "package")
                attempts.append(f"package: {candidate} does not exist ({weights.package!r} is installed)")

    for system_path in weights.system_paths:
        if Path(system_path).exists():
            return ResolvedWeights(Path(system_path), "system")
        attempts.append(f"system: {system_path} does not exist (operating-system package not installed)")

    if weights.hub_id is None:
        attempts.append("hub: this engine has no download source")
    elif not settings.allow_downloads:
        attempts.append(f"hub: {weights.hub_id!r} not fetched, downloads are off (AIGATE_ALLOW_DOWNLOADS)")
    else:
        return ResolvedWeights(_download(spec), "hub")

    raise WeightsNotFound(name, attempts)


def _explicit_path(spec: EngineSpec, path: Path) -> Path:
    where = f"model_paths[{spec.name!r}]"
    if not path.exists():
        raise ConfiguredWeightsMissing(
            spec.name, [f"config: {path} does not exist"], f"{where} is set but unusable; tried:"
        )
    if path.is_dir():
        # A folder given for an engine whose weights are a file (or a folder of another name): look inside.
        for filename in spec.weights.filenames:
            if (path / filename).exists():
                return path / filename
    return path


def package_roots(package: str) -> list[Path]:
    """Folders of an installed (possibly namespace, possibly dotted) package, found without importing it."""
    top, *rest = package.split(".")
    try:
        module_spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if module_spec is None or not module_spec.submodule_search_locations:
        return []
    roots = [Path(location).joinpath(*rest) for location in module_spec.submodule_search_locations]
    return [root for root in roots if root.is_dir()]


def _download(spec: EngineSpec) -> Path:
    raise DownloadsNotSupported(
        spec.name,
        f"engine {spec.name!r}: downloading weights from {spec.weights.hub_id!r} is not supported; "
        f"put them under <models_dir>/{spec.name}/ or set model_paths[{spec.name!r}]",
    )
