"""Rule-based machine translation with Apertium (GPL-2.0+ language data from Debian's `apertium-*` packages).

Each installed translation mode (`/usr/share/apertium/modes/<pair>.mode`) is run as one persistent pipeline in
null-flush mode (`apertium-wblank-mode -z`): a segment written with a trailing NUL comes back translated followed
by a NUL, so the transducers stay loaded in memory between requests (the same technique as apertium-apy).
Deformatting/reformatting of plain text into Apertium's stream format is done here, in Python.

Unknown words pass through unchanged (generation runs with `-n`: no `*`/`#`/`@` marks), which is what lets
callers protect terms with placeholder tokens.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)

# ISO 639-3 (and Apertium's 2-letter legacy names) -> the 2-letter codes AWS uses.
ISO3_TO_CODE = {
    "eng": "en", "spa": "es", "cat": "ca", "glg": "gl", "epo": "eo", "eus": "eu", "isl": "is", "mkd": "mk",
    "fra": "fr", "por": "pt", "ita": "it", "ron": "ro", "oci": "oc", "nob": "no", "nno": "nn", "dan": "da",
    "swe": "sv", "afr": "af", "nld": "nl", "bel": "be", "rus": "ru", "ukr": "uk", "bul": "bg", "ind": "id",
    "zlm": "ms", "slv": "sl", "pol": "pl", "hin": "hi", "urd": "ur", "arg": "an", "ast": "ast", "srd": "sc",
    "frp": "frp", "szl": "szl",
}
# Serbo-Croatian: one Apertium language, three AWS codes (Latin script for all three).
HBS = {"hr": "HR", "sr": "SR", "bs": "BS"}
_MODE_RE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})(?:_([A-Za-z0-9]+))?$")
_ESCAPE = re.compile(r"([\\\[\]^$<>@/{}])")
_NUL = b"\0"
# A pipeline that does not answer within this (plus 1 s per 1000 bytes) is killed and restarted.
TIMEOUT_SECONDS = 30.0


def _code(name: str) -> str:
    return ISO3_TO_CODE.get(name, name)


def discover_modes(modes_dir: Path) -> dict[tuple[str, str], str]:
    """(source, target) AWS codes -> the mode name to run, from the installed `.mode` files."""
    names = sorted(path.stem for path in modes_dir.glob("*.mode"))
    pairs: dict[tuple[str, str], str] = {}
    variants: dict[tuple[str, str], str] = {}
    for name in names:
        match = _MODE_RE.match(name)
        if not match:
            continue
        src, tgt, variant = match.groups()
        if src == "hbs" and not variant:
            for code in HBS:
                pairs.setdefault((code, _code(tgt)), name)
            continue
        if tgt == "hbs":
            for code, suffix in HBS.items():
                if variant == suffix:
                    pairs[(_code(src), code)] = name
            continue
        key = (_code(src), _code(tgt))
        if variant is None:
            pairs.setdefault(key, name)
        elif variant == "US" and key[1] == "en":
            variants[key] = name  # AWS's English is US English
    pairs.update(variants)
    return pairs


def deformat(text: str) -> str:
    """Plain text -> Apertium stream, as `apertium-destxt` writes it: reserved characters escaped, line breaks kept
    as superblanks, and an inserted period (`.[]`, dropped again by `reformat`) before every paragraph break and
    at the end, which makes the pipeline flush the last sentence."""
    out: list[str] = []
    for piece in re.split(r"(\s*\n\s*)", text):
        if not piece:
            continue
        if "\n" in piece:
            if piece.count("\n") > 1:
                out.append(".[]")
            out.append("[" + piece + "]")
        else:
            out.append(_ESCAPE.sub(r"\\\1", piece))
    return "".join(out) + ".[]"


def reformat(stream: str) -> str:
    """Apertium stream -> plain text: drop inserted periods, open superblanks, unescape."""
    out: list[str] = []
    i, n = 0, len(stream)
    while i < n:
        ch = stream[i]
        if ch == "\\" and i + 1 < n:
            out.append(stream[i + 1])
            i += 2
        elif ch == "." and stream.startswith(".[]", i):
            i += 3
        elif ch == "[":
            depth, j = 1, i + 1
            buf: list[str] = []
            while j < n and depth:
                c = stream[j]
                if c == "\\" and j + 1 < n:
                    buf.append(stream[j + 1])
                    j += 2
                    continue
                if c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                    if depth == 0:
                        break
                buf.append(c)
                j += 1
            inner = "".join(buf)
            if inner.startswith("[") and inner.endswith("]"):  # word-bound blank [[...]]
                inner = ""
            out.append(inner)
            i = j + 1
        elif ch in "^$":
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class ApertiumError(RuntimeError):
    pass


class _Pipeline:
    """One persistent null-flush pipeline of a translation mode; one segment at a time."""

    def __init__(self, mode_file: Path):
        self.mode_file = mode_file
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self._pending = b""

    def _start(self) -> subprocess.Popen:
        script = subprocess.run(["apertium-wblank-mode", "-z", str(self.mode_file)], capture_output=True,
                                text=True, check=True).stdout.strip()
        # $1 is the generator's option (-n: no unknown-word marks), $2 the tagger's (none).
        return subprocess.Popen(["bash", "-c", script, "apertium", "-n", ""], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)

    def translate(self, text: str) -> str:
        payload = deformat(text).replace("\0", " ").encode("utf-8") + _NUL
        with self.lock:
            for attempt in (1, 2):
                if self.process is None or self.process.poll() is not None:
                    self.process = self._start()
                try:
                    self.process.stdin.write(payload)
                    self.process.stdin.flush()
                    data = self._read_until_nul(TIMEOUT_SECONDS + len(payload) / 1000)
                    return reformat(data.decode("utf-8", errors="replace"))
                except (BrokenPipeError, OSError, ApertiumError) as error:
                    log.warning("apertium pipeline %s failed (%s); restarting", self.mode_file.stem, error)
                    self.close()
                    if attempt == 2:
                        raise ApertiumError(f"Apertium mode {self.mode_file.stem} failed: {error}") from None
        raise AssertionError("unreachable")

    def _read_until_nul(self, timeout: float) -> bytes:
        fd = self.process.stdout.fileno()
        buffer = self._pending
        deadline = time.monotonic() + timeout
        while True:
            buffer = buffer.lstrip(_NUL)  # responses are never empty: a NUL first is a stray flush
            end = buffer.find(_NUL)
            if end >= 0:
                self._pending = buffer[end + 1:]
                return buffer[:end]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ApertiumError(f"no answer within {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self._pending = b""
                raise ApertiumError("pipeline ended")
            buffer += chunk

    def close(self) -> None:
        process, self.process = self.process, None
        self._pending = b""
        if process is None:
            return
        try:
            os.killpg(process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        process.wait(5)


class _Pool:
    """Up to `size` pipelines of one mode, started on demand, so concurrent requests of a pair run in parallel."""

    def __init__(self, mode_file: Path, size: int):
        self.mode_file = mode_file
        self.size = max(1, size)
        self.free: queue.LifoQueue[_Pipeline] = queue.LifoQueue()
        self.started: list[_Pipeline] = []
        self.lock = threading.Lock()

    def translate(self, text: str) -> str:
        pipeline = self._acquire()
        try:
            return pipeline.translate(text)
        finally:
            self.free.put(pipeline)

    def _acquire(self) -> _Pipeline:
        try:
            return self.free.get_nowait()
        except queue.Empty:
            pass
        with self.lock:
            if len(self.started) < self.size:
                pipeline = _Pipeline(self.mode_file)
                self.started.append(pipeline)
                return pipeline
        return self.free.get()

    def close(self) -> None:
        with self.lock:
            for pipeline in self.started:
                pipeline.close()


class ApertiumEngine:
    """Every installed Apertium mode, by (source, target) AWS language code."""

    name = "apertium"

    def __init__(self, modes_dir: Path, weights: ResolvedWeights | None = None):
        if shutil.which("apertium-wblank-mode") is None:
            raise ApertiumError("Apertium is not installed (apt-get install apertium apertium-eng-spa ...)")
        self.modes_dir = modes_dir
        self.weights = weights
        self.modes = discover_modes(modes_dir)
        self._pipelines: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        # Pipelines per pair: one per core, at most 4 (each holds the pair's transducers, ~10-50 MB).
        self.pool_size = max(1, min(4, os.cpu_count() or 1))

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> ApertiumEngine:
        path = weights.path
        modes_dir = path if path.name == "modes" or path.is_dir() and any(path.glob("*.mode")) else path / "modes"
        return cls(modes_dir, weights)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self.modes)

    def _pipeline(self, source: str, target: str) -> _Pool:
        mode = self.modes.get((source, target))
        if mode is None:
            raise KeyError(f"no Apertium mode for {source}-{target}")
        with self._lock:
            pipeline = self._pipelines.get(mode)
            if pipeline is None:
                pipeline = self._pipelines[mode] = _Pool(self.modes_dir / f"{mode}.mode", self.pool_size)
            return pipeline

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        pipeline = self._pipeline(source, target)
        results = []
        for text in texts:
            if not text.strip():
                results.append(text)
                continue
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()):]
            results.append(lead + pipeline.translate(text.strip()).strip() + trail)
        return results

    def close(self) -> None:
        with self._lock:
            for pipeline in self._pipelines.values():
                pipeline.close()
            self._pipelines.clear()
