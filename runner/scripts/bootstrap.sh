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
#
# Without network it fails within a minute or so, saying why and what to do, instead of sitting
# silent in npm ci: the registry is probed first (POC_BOOTSTRAP_PROBE_TIMEOUT seconds, default
# 10; skipped when a proxy is set, which the probe would not use), and npm's own fetch timeout and
# retries are cut from minutes to seconds (npm_config_fetch_* set by the caller win). With
# POC_OFFLINE=1 (the runner_offline service) nothing is fetched: npm ci --offline, from the cache.
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
# npm's defaults (a 5-minute fetch timeout, 2 retries up to a minute apart) keep a step without
# network silent for ten minutes; these fail it in well under two.
export npm_config_fetch_timeout=${npm_config_fetch_timeout:-30000}
export npm_config_fetch_retries=${npm_config_fetch_retries:-1}
export npm_config_fetch_retry_mintimeout=${npm_config_fetch_retry_mintimeout:-2000}
export npm_config_fetch_retry_maxtimeout=${npm_config_fetch_retry_maxtimeout:-10000}

# The ways out, printed whenever the registry cannot be reached.
ways_out() {
  cat >&2 <<EOF
bootstrap: ways out:
  - a proxy: set HTTPS_PROXY (and npm_config_https_proxy) for the runner, e.g. in runner/.env;
  - a prepared dependency volume: run bootstrap once where the registry is reachable
    (docker compose run --rm runner bash runner/scripts/bootstrap.sh); the volume keeps
    node_modules, and later runs, on the runner_offline service too, skip the install;
  - a warm npm cache: POC_NPM_CI_ARGS=--offline installs from it without the network.
EOF
}

# Whether the registry answers at all (any HTTP status will do) within a few seconds; prints the cause when not.
registry_problem() {
  # shellcheck disable=SC2016 # JavaScript, not shell: ${…} is a template literal.
  node -e '
    const [url, seconds] = process.argv.slice(1);
    fetch(url, { method: "HEAD", signal: AbortSignal.timeout(Number(seconds) * 1000) })
      .then(() => process.exit(0))
      .catch((e) => {
        const timedOut = e.name === "TimeoutError";
        console.log(timedOut ? `no answer within ${seconds} s` : (e.cause?.code ?? e.cause?.message ?? e.message));
        process.exit(1);
      });
  ' "$1" "${POC_BOOTSTRAP_PROBE_TIMEOUT:-10}"
}

offline=0
case ${POC_OFFLINE:-} in 1 | true | yes) offline=1 ;; esac
read -r -a extra <<<"${POC_NPM_CI_ARGS:-}"
registry=$(npm config get registry 2>/dev/null || true)
registry=${registry:-the npm registry}
proxy=${HTTPS_PROXY:-}${https_proxy:-}${npm_config_https_proxy:-}${npm_config_proxy:-}
if ((offline == 1)); then
  echo "bootstrap: POC_OFFLINE=1: installing from the npm cache only (npm ci --offline)"
  extra+=(--offline)
elif [[ " ${extra[*]-} " != *" --offline "* && -z $proxy ]] && ! why=$(registry_problem "$registry"); then
  echo "bootstrap: cannot install: $registry is unreachable from here ($why)" >&2
  ways_out
  exit 1
fi

# npm ci empties node_modules entry by entry, so a volume mounted there survives.
mkdir -p node_modules
echo "bootstrap: running npm ci --no-audit --no-fund ${extra[*]-}"
output=$(mktemp)
trap 'rm -f "$output"' EXIT
if ! npm ci --no-audit --no-fund ${extra[@]+"${extra[@]}"} 2>&1 | tee "$output"; then
  codes='ETIMEDOUT|ESOCKETTIMEDOUT|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ENOTCACHED'
  cause=$(grep -oE "$codes" "$output" | head -n 1 || true)
  if [[ -z $cause ]] && grep -qiE 'network|timed out|timeout' "$output"; then cause="network timeout"; fi
  if [[ $cause == ENOTCACHED ]]; then
    echo "bootstrap: cannot install offline: the npm cache lacks packages of package-lock.json (ENOTCACHED)" >&2
    ways_out
  elif [[ -n $cause ]]; then
    echo "bootstrap: cannot install: $registry is unreachable from here ($cause, after npm's retries)" >&2
    ways_out
  fi
  exit 1
fi
echo "$want" >"$stamp"
echo "bootstrap: done; stamped $stamp"
