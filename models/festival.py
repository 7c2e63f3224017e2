"""Festival (Debian `festival` + `festvox-us-slt-hts`, free licences: X11-style / BSD-like) as an extra
standard-engine voice: the CMU ARCTIC "slt" HTS voice, US English female, 32 kHz (returned at 22.05 kHz).

One persistent `festival --pipe` process (line-buffered through `stdbuf`) serves every request under a lock:
the voice loads once (~0.5 s) and each utterance then costs only its synthesis. Word timings come from the
utterance's Token relation (one token per whitespace-separated input word): the start of its first segment and
the end of its last.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

OUTPUT_RATE = 22050


@dataclass
class FestivalWord:
    start_sample: int
    end_sample: int


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FestivalEngine:
    def __init__(self, voice: str = "cmu_us_slt_arctic_hts") -> None:
        if shutil.which("festival") is None:
            raise FileNotFoundError("festival is not installed (Debian packages festival, festvox-us-slt-hts)")
        self.voice = voice
        self.sample_rate = OUTPUT_RATE
        self._lock = threading.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="aigate-festival-"))
        self._process: subprocess.Popen | None = None
        self._start()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "FestivalEngine":
        return cls(weights.path.name if weights.path.name.endswith("_hts") else "cmu_us_slt_arctic_hts")

    def _start(self) -> None:
        command = ["festival", "--pipe"]
        if shutil.which("stdbuf"):
            command = ["stdbuf", "-oL", *command]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._ask(f"(voice_{self.voice})", "READY")

    def _ask(self, commands: str, sentinel: str) -> list[str]:
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        process.stdin.write(commands + f'\n(format t "{sentinel}\\n")\n')
        process.stdin.flush()
        lines = []
        while True:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("festival exited: " + " | ".join(lines[-5:]))
            line = line.rstrip("\n")
            if line == sentinel:
                return lines
            lines.append(line)

    def synthesize(self, words: list[str], speed: float = 1.0,
                   half_tones: float = 0.0) -> tuple[np.ndarray, list[FestivalWord]]:
        """Say `words` at `speed` (HTS engine -r) raised by `half_tones` (-fm); audio and each word's span."""
        text = " ".join(words)
        counts = [max(1, len(word.split())) for word in words]
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()
            path = self._folder / "utt.wav"
            script = (
                f"(set! hts_engine_params (append {self.voice}::hts_engine_params "
                f"(list (list \"-r\" {speed:.3f}) (list \"-fm\" {half_tones:.3f}))))\n"
                f"(set! aigate_utt (utt.synth (Utterance Text {_scheme_string(text)})))\n"
                f'(utt.save.wave aigate_utt "{path}" (quote riff))\n'
                "(define (aigate_tok tok) (if tok (begin (format t \"T\") "
                "(mapcar (lambda (w) (format t \"\\t%s\\t%s\" "
                "(item.feat w \"R:SylStructure.daughter1.daughter1.segment_start\") "
                "(item.feat w \"R:SylStructure.daughtern.daughtern.end\"))) (item.daughters tok)) "
                "(format t \"\\n\") (aigate_tok (item.next tok)))))\n"
                "(aigate_tok (utt.relation.first aigate_utt 'Token))"
            )
            try:
                lines = self._ask(script, "AIGATE-DONE")
            except (RuntimeError, OSError):
                self.close()
                raise
            with wave.open(str(path), "rb") as handle:
                rate = handle.getframerate()
                audio = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
        if rate != OUTPUT_RATE and len(audio):
            target = int(len(audio) * OUTPUT_RATE / rate)
            audio = np.interp(np.linspace(0, len(audio) - 1, target), np.arange(len(audio)), audio).astype(np.float32)
        tokens: list[tuple[float, float] | None] = []  # per top-level token: (start, end) of its words
        for line in lines:
            if not line.startswith("T"):
                continue
            values = [float(v) for v in line.split("\t")[1:] if v]
            pairs = [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2) if values[i + 1] > 0]
            tokens.append((pairs[0][0], max(end for _, end in pairs)) if pairs else None)
        spans, cursor = [], 0
        for count in counts:
            group = [t for t in tokens[cursor:cursor + count] if t is not None]
            cursor += count
            if group:
                spans.append(FestivalWord(int(group[0][0] * OUTPUT_RATE), int(group[-1][1] * OUTPUT_RATE)))
            else:
                last = spans[-1].end_sample if spans else 0
                spans.append(FestivalWord(last, last))
        # Festival pads each utterance with a pause at both ends: keep 50 ms before the first word, 100 ms after
        # the last, so runs joined around an SSML <break> last as long as the break asks.
        spoken = [span for span in spans if span.end_sample > span.start_sample]
        if spoken and len(audio):
            head = max(0, spoken[0].start_sample - OUTPUT_RATE // 20)
            tail = min(len(audio), spoken[-1].end_sample + OUTPUT_RATE // 10)
            audio = audio[head:tail]
            for span in spans:
                span.start_sample = max(0, span.start_sample - head)
                span.end_sample = max(span.start_sample, min(tail, span.end_sample) - head)
        return audio, spans

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                process.stdin.close()
                process.wait(5)
            except Exception:
                process.kill()
        shutil.rmtree(self._folder, ignore_errors=True)
        os.makedirs(self._folder, exist_ok=True)
