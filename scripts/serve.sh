#!/usr/bin/env bash
# Start the gateway on its embedded defaults (SQLite and local folders under ./data, offline models),
# installing whatever is missing first. Extra arguments go to `aigate serve` (e.g. --port 9000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
cd "$root"
exec .venv/bin/aigate serve "$@"
