"""Text and JSON views of the engines, for `aigate models list`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from models.registry import ModelRegistry

if TYPE_CHECKING:
    from models.settings import ModelSettings

_COLUMNS = ("ENGINE", "CAPABILITY", "FAMILY", "WEIGHTS", "LICENCE", "LOADED", "PATH / PROBLEM")


def _rows(settings: ModelSettings, registry: ModelRegistry | None) -> list[dict]:
    return (registry or ModelRegistry(settings)).describe()


def format_models_table(settings: ModelSettings, registry: ModelRegistry | None = None) -> str:
    """One line per engine: name, capability, family, weights source, licence, loaded, weights path (or why missing).

    Pass the running process's `registry` to show what it has loaded; without one, nothing is loaded.
    """
    lines = [_COLUMNS]
    for row in _rows(settings, registry):
        problem = ""
        if row["weights_error"]:
            problem = "; ".join(row["weights_attempts"] or [row["weights_error"]])
        lines.append(
            (
                row["name"],
                row["capability"],
                row["family"],
                row["weights_source"] or "MISSING",
                row["licence"],
                "yes" if row["loaded"] else "no",
                row["weights_path"] or problem,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(_COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(line, widths)), line[-1]]).rstrip() for line in lines
    )


def models_json(settings: ModelSettings, registry: ModelRegistry | None = None) -> str:
    """`ModelRegistry.describe()` as indented JSON text."""
    return json.dumps(_rows(settings, registry), indent=2)
