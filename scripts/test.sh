#!/usr/bin/env bash
# Run the test suite, installing whatever is missing first. `--quick` skips tests marked slow;
# other arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh" test
cd "$root"
args=()
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then args+=(-m "not slow"); else args+=("$arg"); fi
done
exec .venv/bin/pytest "${args[@]}"
