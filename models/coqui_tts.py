"""Coqui TTS (the `coqui-tts` package, MPL-2.0; model licences vary) as an optional engine for users who have its
models: a folder holding a Coqui `config.json` and a checkpoint (`model.pth`, `best_model.pth`, `model_file.pth`
or `checkpoint_*.pth`), put under `AIGATE_MODELS_DIR/coqui/` or named by `AIGATE_MODEL_PATHS='{"coqui": ...}'`.

No Coqui model ships in any package this project can install offline, and the package itself is not a project
dependency (it pulls matplotlib, tensorboard and a trainer); install it with
`pip install -c constraints.txt coqui-tts` to enable this engine. Not wired to a Polly voice yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

CHECKPOINT_NAMES = ("model.pth", "best_model.pth", "model_file.pth")


class CoquiUnavailable(RuntimeError):
    """The coqui-tts package is missing or the model folder is incomplete."""


def model_files(path: Path) -> tuple[Path, Path]:
    """(checkpoint, config.json) of a Coqui model folder (or of the folder of a checkpoint file)."""
    folder = path if path.is_dir() else path.parent
    config = folder / "config.json"
    if not config.is_file():
        raise CoquiUnavailable(f"{folder} has no config.json (a Coqui TTS model folder holds config.json + a .pth)")
    if path.is_file() and path.suffix == ".pth":
        return path, config
    for name in CHECKPOINT_NAMES:
        if (folder / name).is_file():
            return folder / name, config
    checkpoints = sorted(folder.glob("checkpoint_*.pth"))
    if checkpoints:
        return checkpoints[-1], config
    raise CoquiUnavailable(f"{folder} has no checkpoint ({', '.join(CHECKPOINT_NAMES)} or checkpoint_*.pth)")


class CoquiEngine:
    def __init__(self, synthesizer, weights: ResolvedWeights) -> None:
        self.synthesizer = synthesizer
        self.weights = weights
        self.sample_rate = int(synthesizer.output_sample_rate)

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "CoquiEngine":
        checkpoint, config = model_files(Path(weights.path))
        try:
            from TTS.utils.synthesizer import Synthesizer
        except ImportError as error:
            raise CoquiUnavailable(
                "the coqui-tts package is not installed (pip install -c constraints.txt coqui-tts): " + str(error)
            ) from None
        synthesizer = Synthesizer(tts_checkpoint=str(checkpoint), tts_config_path=str(config), use_cuda=False)
        return cls(synthesizer, weights)

    def synthesize(self, text: str, speaker: str | None = None, language: str | None = None) -> np.ndarray:
        """float32 mono audio in [-1, 1] at `sample_rate`."""
        wav = self.synthesizer.tts(text, speaker_name=speaker, language_name=language)
        audio = np.asarray(wav, dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        return audio / peak * 0.95 if peak > 1.0 else audio

    def close(self) -> None:
        self.synthesizer = None
