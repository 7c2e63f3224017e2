"""Ultralytics `.pt` checkpoints -> ONNX, once, through Ultralytics' own exporter, in a child process.

Why a child process: Ultralytics will not import without an installed torchvision, and PyPI's torchvision is a
CUDA build whose C++ ops do not load beside the CPU torch here, so that `import torchvision` fails ("operator
torchvision::nms does not exist"). Installed into the virtualenv it would break every other importer of
torchvision too (torchmetrics, Lightning, GluonTS). So the export toolchain (scripts/yolo-packages.txt:
ultralytics, torchvision) is installed into a folder of its own, `TOOLCHAIN`, that only the export's child process
has on its path, and that child registers a pure-torch `torchvision::nms` (and `qnms`) before importing
torchvision when torchvision's own ops do not load. Nothing of this is imported by the gateway itself: the
exported ONNX file is run by onnxruntime (models/detector.py).

The ONNX file is written next to the checkpoint (or into a cache folder when that is not writable), named after
the checkpoint's SHA-256, so that a changed `.pt` is exported again and an unchanged one never is.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Where scripts/bootstrap.sh installs scripts/yolo-packages.txt (pip --target, --no-deps).
TOOLCHAIN = Path(sys.prefix) / "share" / "aigate-yolo"
EXPORT_SUFFIX = ".aigate.onnx"  # `<stem>.<hash>.aigate.onnx`: an export cache, never a user's own model
EXPORT_TIMEOUT_S = 900


class ExportUnavailable(RuntimeError):
    """The Ultralytics export toolchain is not installed."""


def toolchain_missing() -> str | None:
    """Why `.pt` files cannot be exported here, or None when they can."""
    with_toolchain = [str(TOOLCHAIN), *sys.path]
    for package in ("ultralytics", "torchvision"):
        if importlib.machinery.PathFinder.find_spec(package, with_toolchain) is None:
            return (f"{package} is not installed in {TOOLCHAIN} (scripts/bootstrap.sh installs "
                    "scripts/yolo-packages.txt there when a detector is switched on, and for the tests)")
    return None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def exported_path(checkpoint: Path, folder: Path) -> Path:
    return folder / f"{checkpoint.stem}.{file_digest(checkpoint)[:16]}{EXPORT_SUFFIX}"


def export_onnx(checkpoint: Path, folders: list[Path]) -> Path:
    """The ONNX export of `checkpoint`: the cached one in the first of `folders` that has it, else exported now
    into the first writable one (under a file lock: model worker processes may load the same engine at once)."""
    for folder in folders:
        if exported_path(checkpoint, folder).exists():
            return exported_path(checkpoint, folder)
    reason = toolchain_missing()
    if reason:
        raise ExportUnavailable(f"cannot export {checkpoint} to ONNX: {reason}")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            lock = open(folder / ".aigate-export.lock", "w")
        except OSError:
            continue  # not writable (a read-only models folder): try the next one
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            target = exported_path(checkpoint, folder)
            if not target.exists():
                _export_in_child(checkpoint, target)
            return target
    raise OSError(f"none of {', '.join(map(str, folders))} is writable for the ONNX export of {checkpoint}")


def _export_in_child(checkpoint: Path, target: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLCHAIN), str(root), env.get("PYTHONPATH")]))
    partial = target.with_name(target.name + ".tmp")
    result = subprocess.run([sys.executable, "-m", "models.yolo_export", str(checkpoint), str(partial)],
                            env=env, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"Ultralytics' ONNX export of {checkpoint} failed:\n{result.stderr[-4000:]}")
    os.replace(partial, target)


# --- the child process ------------------------------------------------------------------------------------------


def _nms(boxes, scores, iou_threshold: float):
    """torchvision.ops.nms in plain torch: indices of the kept boxes (x0, y0, x1, y1), best score first."""
    import torch

    order = scores.argsort(descending=True)
    x0, y0, x1, y1 = boxes[order].unbind(1)
    areas = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    alive = torch.ones(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if alive[i]:
            keep.append(i)
            inter = ((torch.minimum(x1[i], x1) - torch.maximum(x0[i], x0)).clamp(min=0)
                     * (torch.minimum(y1[i], y1) - torch.maximum(y0[i], y0)).clamp(min=0))
            alive &= inter / (areas[i] + areas - inter) <= iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


_LIBRARY = None  # the torch.library that holds the fallback ops (kept alive for the process)


def make_torchvision_importable() -> None:
    """Register `torchvision::nms` / `qnms` in plain torch when torchvision's C++ extension does not load, since
    `import torchvision` registers fake kernels for them and fails when they do not exist. Its other C++ ops
    (roi_align, deform_conv2d) stay unavailable; the export uses none."""
    global _LIBRARY
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or _LIBRARY is not None:
        return
    folder = Path(list(spec.submodule_search_locations)[0])
    for extension in sorted(folder.glob("_C*.so")) + sorted(folder.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(extension))
            return  # torchvision's own ops work: nothing to replace
        except OSError:
            pass
    _LIBRARY = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        _LIBRARY.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARY.impl(name, _nms, "CPU")


def _child(checkpoint: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        # Offline, and Ultralytics' settings file in the scratch folder rather than the user's home.
        os.environ.update(YOLO_OFFLINE="1", YOLO_CONFIG_DIR=scratch, YOLO_VERBOSE="False")
        make_torchvision_importable()
        from ultralytics import YOLO

        # Ultralytics writes `<stem>.onnx` beside the file it exports: a copy in the scratch folder.
        copy = Path(scratch) / checkpoint.name
        shutil.copyfile(checkpoint, copy)
        # simplify=False: onnxslim is not installed (Ultralytics would try to pip-install it). The input size is
        # the checkpoint's own training size; no NMS in the graph (models/detector.py does it).
        exported = YOLO(str(copy)).export(format="onnx", simplify=False, dynamic=False, nms=False, device="cpu")
        shutil.move(str(exported), target)


if __name__ == "__main__":
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
