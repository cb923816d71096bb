#!/usr/bin/env bash
# bootstrap: install the dependencies (npm ci) into node_modules — in the container, the
# persistent dependency volume.
#
# Idempotent and fast: the hash of package-lock.json, package.json and the Node version is stamped
# into node_modules after a successful install, and an unchanged hash skips the install. A new
# Node major matters because native modules are built for it.
#
# Usage: bash runner/scripts/bootstrap.sh [--force]     (POC_BOOTSTRAP_FORCE=1 also forces)
#        bash runner/scripts/bootstrap.sh --print-hash  (the hash it would stamp; used by doctor)
# Extra npm ci arguments: POC_NPM_CI_ARGS (e.g. "--offline" with a warm npm cache).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
stamp=node_modules/.poc-bootstrap.sha256

lock_hash() {
  # shellcheck disable=SC2016 # JavaScript, not shell: ${…} is a template literal.
  node -e '
    const fs = require("fs");
    const hash = require("crypto").createHash("sha256");
    for (const f of ["package-lock.json", "package.json"]) hash.update(fs.existsSync(f) ? fs.readFileSync(f) : "");
    hash.update(`${process.platform}-${process.arch}-node${process.versions.modules}`);
    console.log(hash.digest("hex"));
  '
}

force=${POC_BOOTSTRAP_FORCE:-0}
case ${1:-} in
  --print-hash)
    lock_hash
    exit 0
    ;;
  --force) force=1 ;;
  "") ;;
  *)
    echo "usage: bootstrap.sh [--force | --print-hash]" >&2
    exit 2
    ;;
esac

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "bootstrap: node and npm are required (Node 20 or newer)" >&2
  exit 1
fi
if [[ ! -f package-lock.json ]]; then
  echo "bootstrap: $root has no package-lock.json; run \`npm install\` once and commit the lockfile" >&2
  exit 1
fi

want=$(lock_hash)
if [[ $force != 1 && -f $stamp && $(<"$stamp") == "$want" ]]; then
  echo "bootstrap: dependencies are up to date (package-lock.json unchanged since the last install); nothing to do"
  exit 0
fi

if [[ -f $stamp ]]; then
  echo "bootstrap: package-lock.json, package.json or the Node version changed; reinstalling"
elif [[ $force == 1 ]]; then
  echo "bootstrap: reinstalling (forced)"
else
  echo "bootstrap: first install into node_modules"
fi
# npm ci empties node_modules entry by entry, so a volume mounted there survives.
mkdir -p node_modules
read -r -a extra <<<"${POC_NPM_CI_ARGS:-}"
echo "bootstrap: running npm ci --no-audit --no-fund ${extra[*]-}"
npm ci --no-audit --no-fund ${extra[@]+"${extra[@]}"}
echo "$want" >"$stamp"
echo "bootstrap: done; stamped $stamp"
