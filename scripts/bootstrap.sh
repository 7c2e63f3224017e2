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
