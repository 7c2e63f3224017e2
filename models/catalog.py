"""The engines aigate knows: what each does, under which licence, and where its weights live.

Adding an engine is one `EngineSpec` entry in `CATALOG` (plus its module under `models/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WeightsSpec:
    """Where an engine's weights may be found (see `models.weights.resolve_weights`).

    - `filenames`: the file or folder name(s) looked for under `<models_dir>/<engine name>/`, first match wins.
    - `package` + `package_paths`: an installed Python distribution that ships the weights, and the
      path(s) relative to that package's folder. `package` may be dotted; it is located with
      `importlib.util.find_spec` on the top-level name, so the (possibly heavy) package is never imported.
    - `hub_id`: where the weights would be downloaded from when `allow_downloads` is on (None: not downloadable).
    """

    filenames: tuple[str, ...]
    package: str | None = None
    package_paths: tuple[str, ...] = ()
    hub_id: str | None = None

    def __post_init__(self) -> None:
        if not self.filenames:
            raise ValueError("WeightsSpec needs at least one file or folder name")
        if self.package_paths and not self.package:
            raise ValueError("WeightsSpec.package_paths given without a package")


@dataclass(frozen=True)
class EngineSpec:
    """One engine: `engine` is the `module:Class` that loads it (imported only when the engine is first used)."""

    name: str
    capability: str
    family: str
    description: str
    licence: str
    weights: WeightsSpec
    engine: str = field(default="", compare=False)


def _index(specs: Iterable[EngineSpec]) -> dict[str, EngineSpec]:
    catalog: dict[str, EngineSpec] = {}
    for spec in specs:
        if spec.name in catalog:
            raise ValueError(f"engine {spec.name!r} is registered twice")
        catalog[spec.name] = spec
    return catalog


CATALOG: Mapping[str, EngineSpec] = _index(
    [
        EngineSpec(
            name="langid",
            capability="language-identification",
            family="py3langid",
            description="Naive Bayes byte n-gram language identifier (langid.py fork), 140 languages",
            licence="BSD-3-Clause",
            # py3langid >= 0.4 ships `model.npz.xz`; 0.3.x shipped the pickled `model.plzma`.
            weights=WeightsSpec(
                filenames=("model.npz.xz", "model.plzma"),
                package="py3langid",
                package_paths=("data/model.npz.xz", "data/model.plzma"),
            ),
            engine="models.langid:LangIdEngine",
        ),
    ]
)


def get_spec(name: str, catalog: Mapping[str, EngineSpec] | None = None) -> EngineSpec:
    catalog = CATALOG if catalog is None else catalog
    try:
        return catalog[name]
    except KeyError:
        raise UnknownEngine(name, sorted(catalog)) from None


class UnknownEngine(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown engine {self.name!r} (known: {', '.join(self.known) or 'none'})"
