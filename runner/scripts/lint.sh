#!/usr/bin/env bash
# lint: ESLint (`npm run lint`) and the TypeScript compiler (`npm run typecheck`). Both always run,
# so one report shows every problem; the exit code is non-zero when either failed.
#
# Usage: bash runner/scripts/lint.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

failed=()
for script in lint typecheck; do
  echo "lint: npm run $script"
  if npm run --silent "$script"; then
    echo "lint: npm run $script passed"
  else
    rc=$?
    echo "lint: npm run $script failed (exit code $rc)"
    failed+=("$script")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "lint: FAILED: ${failed[*]}"
  exit 1
fi
echo "lint: eslint and tsc passed"
