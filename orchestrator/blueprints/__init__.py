"""Blueprints shipped with the gateway: ready-made state machines chaining its services (README: Orchestrator).

    from orchestrator.blueprints import definition
    sfn.create_state_machine(name="docs", definition=definition("document-processing"), roleArn=...)
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
NAMES = sorted(path.name[: -len(".asl.json")] for path in FOLDER.glob("*.asl.json"))


def definition(name: str) -> str:
    """The Amazon States Language text of a blueprint."""
    path = FOLDER / f"{name}.asl.json"
    if not path.is_file():
        raise KeyError(f"no blueprint {name!r}; known: {', '.join(NAMES)}")
    return path.read_text()
