#!/usr/bin/env bash
# doctor: is this machine (or the runner container) ready for poc-orchestrator?
#
# Seven numbered checks, each PASS, WARN or FAIL. FAIL for what every pipeline needs (Node,
# dependencies, a compiling project) and for outbound HTTPS, which hosted providers need — unless
# the run is declared offline (POC_OFFLINE=1, as the `runner_offline` service sets it). What is
# optional (Ollama, provider keys, a Temporal server) can only WARN. Exit code 1 when anything
# FAILed, else 0. A JSON summary goes to runner/artifacts/doctor-summary.json (POC_ARTIFACTS_DIR
# overrides the folder).
#
# Usage: bash runner/scripts/doctor.sh   (on the host, or in the container as the `doctor` step)
# Knobs: OLLAMA_HOST (or OLLAMA_BASE_URL; OLLAMA_HOST wins), TEMPORAL_ADDRESS, POC_OFFLINE=1,
#        POC_DOCTOR_HTTPS_URL (outbound probe), POC_DOCTOR_TIMEOUT (seconds per network probe,
#        default 5), POC_DOCTOR_SKIP_TSC=1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
artifacts=${POC_ARTIFACTS_DIR:-$root/runner/artifacts}
summary=$artifacts/doctor-summary.json
probe_timeout=${POC_DOCTOR_TIMEOUT:-5}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The entrypoint of the runner image sets POC_IN_CONTAINER; a container's "localhost" is not the
# host, where Ollama and the dev server usually run.
if [[ ${POC_IN_CONTAINER:-} == 1 ]]; then
  where=container
  host_default=host.docker.internal
else
  where=host
  host_default=127.0.0.1
fi
# OLLAMA_BASE_URL is what other tools call it; Ollama's own OLLAMA_HOST wins when both are set.
if [[ -n ${OLLAMA_HOST:-} ]]; then
  ollama_from=OLLAMA_HOST
elif [[ -n ${OLLAMA_BASE_URL:-} ]]; then
  ollama_from=OLLAMA_BASE_URL
else
  ollama_from=default
fi
ollama_url=${OLLAMA_HOST:-${OLLAMA_BASE_URL:-http://$host_default:11434}}
[[ $ollama_url == *://* ]] || ollama_url=http://$ollama_url
ollama_url=${ollama_url%/}
temporal_address=${TEMPORAL_ADDRESS:-$host_default:7233}
https_url=${POC_DOCTOR_HTTPS_URL:-https://api.openai.com/v1/models}
case ${POC_OFFLINE:-} in
  1 | true | yes) offline=1 ;;
  *) offline=0 ;;
esac

total=7
names=()
statuses=()
details=()

# Records and prints one result. Details never hold secret values (see check 6).
result() {
  local status=$1 name=$2 detail=$3
  names+=("$name")
  statuses+=("$status")
  details+=("$detail")
  printf '[%d/%d] %-4s %s — %s\n' "${#names[@]}" "$total" "$status" "$name" "$detail"
}

json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# HTTP status of a GET (any status proves the server answered); the reason on stderr when none.
http_probe() {
  local url=$1 code
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -sS -o "$scratch/body" -w '%{http_code}' --max-time "$probe_timeout" "$url" 2>"$scratch/err") || true
    if [[ $code =~ ^[1-9][0-9][0-9]$ ]]; then
      echo "$code"
      return 0
    fi
    sed -E 's/^curl: \([0-9]+\) //' "$scratch/err" | head -n 1 >&2
    return 1
  fi
  node -e '
    const [url, seconds, bodyFile] = process.argv.slice(1);
    fetch(url, { signal: AbortSignal.timeout(Number(seconds) * 1000) })
      .then(async (r) => { require("fs").writeFileSync(bodyFile, await r.text()); console.log(r.status); })
      .catch((e) => { console.error(String(e.cause?.message ?? e.message)); process.exit(1); });
  ' "$url" "$probe_timeout" "$scratch/body"
}

echo "doctor: checking $root on the $where"

# 1. Node.js
if command -v node >/dev/null 2>&1; then
  node_version=$(node --version)
  node_major=${node_version#v}
  node_major=${node_major%%.*}
  if ((node_major >= 20)); then
    result PASS "Node.js >= 20" "$node_version"
  else
    result FAIL "Node.js >= 20" "$node_version is too old; install Node 20 or newer"
  fi
else
  node_major=0
  result FAIL "Node.js >= 20" "node is not on PATH; install Node 20 or newer"
fi

# 2. Dependencies: every package.json dependency present in node_modules.
deps_ok=0
if ((node_major == 0)); then
  result FAIL "dependencies installed" "cannot check without node"
elif [[ ! -f package.json ]]; then
  result FAIL "dependencies installed" "no package.json in $root"
elif [[ ! -d node_modules ]]; then
  result FAIL "dependencies installed" "node_modules is missing; run runner/scripts/bootstrap.sh"
else
  # shellcheck disable=SC2016 # JavaScript, not shell: ${…} is a template literal.
  missing=$(node -e '
    const fs = require("fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
    const missing = names.filter((n) => !fs.existsSync(`node_modules/${n}/package.json`));
    console.log(`${names.length} ${missing.join(" ")}`);
  ')
  declared=${missing%% *}
  missing=${missing#* }
  stamp=node_modules/.poc-bootstrap.sha256
  if [[ -n $missing ]]; then
    result FAIL "dependencies installed" "missing from node_modules: $missing; run runner/scripts/bootstrap.sh"
  elif [[ -f $stamp && $(<"$stamp") != "$(bash "$root/runner/scripts/bootstrap.sh" --print-hash)" ]]; then
    deps_ok=1
    detail="all $declared present, but package-lock.json changed since the last bootstrap"
    result WARN "dependencies installed" "$detail; run runner/scripts/bootstrap.sh"
  else
    deps_ok=1
    result PASS "dependencies installed" "all $declared declared packages present"
  fi
fi

# 3. TypeScript compiles.
if [[ ${POC_DOCTOR_SKIP_TSC:-0} == 1 ]]; then
  result WARN "TypeScript compiles" "skipped (POC_DOCTOR_SKIP_TSC=1)"
elif ((deps_ok == 0)); then
  result FAIL "TypeScript compiles" "cannot compile without the dependencies (check 2)"
elif [[ ! -x node_modules/.bin/tsc ]]; then
  result FAIL "TypeScript compiles" "node_modules/.bin/tsc is missing; add typescript to devDependencies"
else
  echo "      running: tsc --noEmit -p ."
  if node_modules/.bin/tsc --noEmit -p . >"$scratch/tsc" 2>&1; then
    result PASS "TypeScript compiles" "tsc --noEmit -p . found no errors"
  else
    errors=$(grep -cE 'error TS[0-9]+' "$scratch/tsc" || true)
    sed -n '1,15p' "$scratch/tsc" | sed 's/^/      /'
    result FAIL "TypeScript compiles" "tsc --noEmit reported ${errors:-some} error(s); run npm run typecheck"
  fi
fi

# 4. Ollama (optional: only the ollama backend needs it).
if status=$(http_probe "$ollama_url/api/version" 2>"$scratch/why"); then
  if [[ $status == 200 ]]; then
    version=$(sed -nE 's/.*"version"[[:space:]]*:[[:space:]]*"([^"]*)".*/\1/p' "$scratch/body" | head -n 1)
    result PASS "Ollama reachable" "Ollama ${version:-(version unknown)} at $ollama_url (from $ollama_from)"
  else
    result WARN "Ollama reachable" "$ollama_url answered HTTP $status to /api/version; is it Ollama?"
  fi
else
  hint="set OLLAMA_HOST or start Ollama (needed only for --backend ollama)"
  result WARN "Ollama reachable" "no answer from $ollama_url (from $ollama_from: $(head -n 1 "$scratch/why")); $hint"
fi

# 5. Outbound HTTPS: hosted providers need it, so it is required unless the run is declared offline.
if ((offline == 1)); then
  result WARN "outbound HTTPS" "not checked: POC_OFFLINE=1 declares this run offline; hosted providers are out of reach"
elif status=$(http_probe "$https_url" 2>"$scratch/why"); then
  result PASS "outbound HTTPS" "$https_url answered (HTTP $status)"
else
  hint="hosted providers need it: fix the network or proxy, or declare the run offline with POC_OFFLINE=1"
  hint+=" (the runner_offline service does)"
  result FAIL "outbound HTTPS" "no answer from $https_url ($(head -n 1 "$scratch/why")); $hint"
fi

# 6. Provider keys: whether they are set — never their values, not even their length.
set_keys=()
unset_keys=()
for key in OPENAI_API_KEY ANTHROPIC_API_KEY; do
  if [[ -n ${!key:-} ]]; then set_keys+=("$key"); else unset_keys+=("$key"); fi
done
if ((${#set_keys[@]} > 0)); then
  detail="${set_keys[*]} set"
  ((${#unset_keys[@]} == 0)) || detail+="; ${unset_keys[*]} not set"
  result PASS "provider keys present" "$detail"
else
  hint="only --backend ollama will work"
  result WARN "provider keys present" "neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set; $hint"
fi

# 7. Temporal frontend, a plain TCP connect (optional: steps run without it).
# shellcheck disable=SC2016 # JavaScript, not shell: ${…} is a template literal.
tcp_probe='
  const net = require("net");
  const address = process.argv[1];
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) { console.error(`"${address}" is not host:port`); process.exit(2); }
  const socket = net.connect({ host: m[1], port: Number(m[2]) });
  socket.setTimeout(Number(process.argv[2]) * 1000, () => { console.error("timed out"); process.exit(1); });
  socket.on("connect", () => { socket.end(); process.exit(0); });
  socket.on("error", (e) => { console.error(e.code ?? e.message); process.exit(1); });
'
if ((node_major == 0)); then
  result WARN "Temporal reachable" "cannot check without node"
elif node -e "$tcp_probe" "$temporal_address" "$probe_timeout" 2>"$scratch/why"; then
  result PASS "Temporal reachable" "TCP connect to $temporal_address"
else
  hint="start one with \`poc up\` or set TEMPORAL_ADDRESS (steps themselves do not need it)"
  result WARN "Temporal reachable" "cannot connect to $temporal_address ($(head -n 1 "$scratch/why")); $hint"
fi

pass=0 warn=0 fail=0
for s in "${statuses[@]}"; do
  case $s in
    PASS) pass=$((pass + 1)) ;;
    WARN) warn=$((warn + 1)) ;;
    FAIL) fail=$((fail + 1)) ;;
  esac
done

mkdir -p "$artifacts"
{
  printf '{\n'
  printf '  "generatedAt": %s,\n' "$(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
  printf '  "where": %s,\n' "$(json_string "$where")"
  printf '  "root": %s,\n' "$(json_string "$root")"
  ok=true
  ((fail == 0)) || ok=false
  printf '  "ok": %s,\n' "$ok"
  printf '  "counts": { "pass": %d, "warn": %d, "fail": %d },\n' "$pass" "$warn" "$fail"
  printf '  "checks": [\n'
  for i in "${!names[@]}"; do
    sep=,
    ((i + 1 < ${#names[@]})) || sep=
    printf '    { "id": %d, "name": %s, "status": %s, "detail": %s }%s\n' \
      "$((i + 1))" "$(json_string "${names[$i]}")" "$(json_string "${statuses[$i]}")" \
      "$(json_string "${details[$i]}")" "$sep"
  done
  printf '  ]\n}\n'
} >"$summary.tmp"
mv "$summary.tmp" "$summary"

echo "doctor: $pass PASS, $warn WARN, $fail FAIL — summary in ${summary#"$root"/}"
((fail == 0))
