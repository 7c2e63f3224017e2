"""Settings read from the environment, and the models package kept apart from the gateway: it types its settings
against `models.settings.ModelSettings`, which the gateway's Settings satisfies, and imports nothing of
`services` or `orchestrator`."""

from __future__ import annotations

import ast
import os
import types
from pathlib import Path

import pytest

from models.settings import ModelSettings
from services.gateway.config import Settings

ROOT = Path(__file__).resolve().parent.parent
MOVED = ("AIGATE_TRANSCRIBE_ENGINE", "AIGATE_PUBLIC_URL", "AIGATE_WHISPER_THREADS")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in MOVED:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_defaults_when_unset(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert settings.transcribe_engine == "whisper-base"
    assert settings.public_url == ""
    assert settings.whisper_threads == 0


def test_settings_read_from_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AIGATE_TRANSCRIBE_ENGINE", "whisper-tiny-en")
    clean_env.setenv("AIGATE_PUBLIC_URL", "https://speech.example.com/")
    clean_env.setenv("AIGATE_WHISPER_THREADS", "3")
    settings = Settings(_env_file=None)
    assert settings.transcribe_engine == "whisper-tiny-en"
    assert settings.public_url == "https://speech.example.com/"
    assert settings.whisper_threads == 3


def test_whisper_threads_from_settings(clean_env: pytest.MonkeyPatch) -> None:
    from models.whisper import _cpu_threads

    assert _cpu_threads(Settings(_env_file=None, whisper_threads=3)) == 3
    assert _cpu_threads(Settings(_env_file=None)) == max(1, os.cpu_count() or 1)
    clean_env.setenv("AIGATE_WHISPER_THREADS", "5")
    assert _cpu_threads(Settings(_env_file=None)) == 5


def test_transcribe_jobs_read_settings(clean_env: pytest.MonkeyPatch) -> None:
    from services.transcribe import jobs

    current = types.SimpleNamespace(settings=Settings(_env_file=None, host="0.0.0.0", port=8123))
    clean_env.setattr(jobs, "runtime", lambda: current)
    assert jobs.engine_name() == "whisper-base"
    assert jobs.public_base_url() == "http://127.0.0.1:8123"
    current.settings = Settings(_env_file=None, transcribe_engine="whisper-tiny-en",
                                public_url="https://speech.example.com/")
    assert jobs.engine_name() == "whisper-tiny-en"
    assert jobs.public_base_url() == "https://speech.example.com"


def _protocol_members(protocol: type) -> set[str]:
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (object,) or klass.__module__ == "typing":
            continue
        names.update(getattr(klass, "__annotations__", {}))
        names.update(name for name in vars(klass) if not name.startswith("_"))
    return names


def test_gateway_settings_satisfy_model_settings() -> None:
    members = _protocol_members(ModelSettings)
    assert {"data_dir", "models_dir", "model_paths", "allow_downloads", "model_idle_unload_seconds",
            "whisper_threads"} <= members
    settings = Settings(_env_file=None)
    missing = sorted(name for name in members if not hasattr(settings, name))
    assert not missing, f"Settings lacks {missing}, which models.settings.ModelSettings declares"


def _models_settings_reads() -> set[str]:
    """Every `settings.<name>` attribute read under models/ (besides those on the registry's own `self.settings`)."""
    names: set[str] = set()
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute):
                base = node.value
                if isinstance(base, ast.Name) and base.id == "settings":
                    names.add(node.attr)
                elif isinstance(base, ast.Attribute) and base.attr == "settings" and \
                        isinstance(base.value, ast.Name) and base.value.id == "self":
                    names.add(node.attr)
    return names


def test_model_settings_lists_what_models_read() -> None:
    assert _models_settings_reads() <= _protocol_members(ModelSettings)


def test_models_import_nothing_from_services_or_orchestrator() -> None:
    forbidden = ("services", "orchestrator")
    offenders = []
    for path in sorted((ROOT / "models").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):  # walks `if TYPE_CHECKING:` bodies too
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in forbidden:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module}")
    assert not offenders, "models/ must not import the gateway or orchestrator:\n" + "\n".join(offenders)
