"""Word error rate of each speech engine on real read speech: the five LibriVox clips of Debian's
`pocketsphinx-testdata`, against their reference transcripts, after the usual normalisation (lower case, no
punctuation, hyphens split, "Mr." -> "mister", digits spelt out).

    .venv/bin/python bench/transcribe_quality.py [--no-openai]

Engines: faster-whisper Whisper base (the default), faster-whisper tiny.en, and openai-whisper on a `.pt` rebuilt
from the same Whisper base weights (greedy decoding there, to keep its CPU time bounded)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.audio import decode  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402
from services.gateway.config import Settings  # noqa: E402
from tests.test_transcribe import librivox, wer  # noqa: E402

GOAL = 0.05


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-openai", action="store_true", help="skip the (slow) openai-whisper engine")
    args = parser.parse_args()
    clips = [(decode(path.read_bytes()).mono(), reference) for path, reference in librivox()]
    seconds = sum(len(audio) for audio, _ in clips) / 16000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", models_dir=Path(tmp) / "models")
        with ModelRegistry(settings) as registry:
            engines = [("whisper-base (faster-whisper, beam 5)", "whisper-base", {}),
                       ("whisper-tiny-en (faster-whisper, beam 5)", "whisper-tiny-en", {})]
            if not args.no_openai:
                from models.whisper import ct2_to_openai_checkpoint

                ct2_to_openai_checkpoint(registry.get("whisper-base").folder,
                                         Path(tmp) / "models" / "openai-whisper" / "base.pt")
                engines.append(("openai-whisper base, same weights (greedy)", "openai-whisper", {"beam_size": 1}))
            for label, name, options in engines:
                engine = registry.get(name)
                errors = words = 0
                started = time.perf_counter()
                for audio, reference in clips:
                    result = engine.transcribe(audio, language="en", **options)
                    e, n = wer(reference, result.text)
                    errors, words = errors + e, words + n
                elapsed = time.perf_counter() - started
                rows.append((label, errors / words, errors, words, elapsed / seconds))
                registry.unload(name)
    print(f"{len(clips)} LibriVox clips, {seconds:.1f} s of read speech, {rows[0][3]} reference words")
    print(f"{'engine':48} {'WER':>7} {'errors':>7} {'RTF':>6}")
    for label, rate, errors, _words, rtf in rows:
        print(f"{label:48} {rate:7.2%} {errors:7d} {rtf:6.2f}")
    print(f"transcribe_quality: WER {rows[0][1]:.1%} with whisper-base (goal <= {GOAL:.0%})")


if __name__ == "__main__":
    main()
