#!/usr/bin/env bash
# Entrypoint of the runner container (Dockerfile.poc's /usr/local/bin/poc-entrypoint hands over
# to this file in the mounted repository).
#
# 1. Loads runner/.env when it exists. Compose v1 has no optional env_file (`required: false` is
#    v2.24+ only, and v1 rejects it), so the file is read here, which behaves the same under every
#    Compose. Like env_file, it never overrides a variable Compose already set.
# 2. Runs the command as the non-root user, with the uid/gid that own the mounted repository, so
#    what steps write into runner/ belongs to you on the host. When the repository is owned by
#    root (a root host user, or rootless Docker where your uid is root inside), only root can
#    write it, so the command stays root.
set -euo pipefail

workdir=${POC_WORKDIR:-/workspace}
env_file=${POC_ENV_FILE:-$workdir/runner/.env}

note() { printf 'poc-entrypoint: %s\n' "$*" >&2; }

load_env_file() {
  local file=$1 line key value n=0 loaded=()
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      note "$file:$n is not KEY=VALUE; ignored"
      continue
    fi
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    if [[ $value =~ ^\"(.*)\"[[:space:]]*$ || $value =~ ^\'(.*)\'[[:space:]]*$ ]]; then
      value=${BASH_REMATCH[1]}
    else
      # Unquoted values end at " #", as in Compose's own .env parser.
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    # An empty value from the host counts as unset, or a blank passthrough would hide the file.
    if [[ -z ${!key:-} ]]; then
      export "$key=$value"
      loaded+=("$key")
    fi
  done <"$file"
  # Names only: values may be secrets.
  if ((${#loaded[@]} > 0)); then note "loaded ${loaded[*]} from ${file#"$workdir"/}"; fi
}

if [[ -f $env_file ]]; then load_env_file "$env_file"; fi

# Ollama runs on the host; host.docker.internal reaches it (extra_hosts: host-gateway on Linux).
# OLLAMA_BASE_URL is honoured as an alias; OLLAMA_HOST wins when both are set.
export OLLAMA_HOST=${OLLAMA_HOST:-${OLLAMA_BASE_URL:-http://host.docker.internal:11434}}
export POC_IN_CONTAINER=1

# Only in the runner image (Dockerfile.poc sets POC_IN_RUNNER_IMAGE): the steps below rewrite
# /etc/passwd, which must never happen when this file is run on a host.
if [[ ${POC_IN_RUNNER_IMAGE:-} != 1 || $(id -u) -ne 0 || ${POC_RUN_AS_ROOT:-0} == 1 || ! -d $workdir ]]; then
  exec "$@"
fi

user=${POC_USER:-node}
uid=${POC_UID:-$(stat -c %u "$workdir")}
gid=${POC_GID:-$(stat -c %g "$workdir")}
if [[ $uid == 0 ]]; then
  exec "$@"
fi
if ! command -v setpriv >/dev/null 2>&1; then
  note "setpriv is missing from the image; running as root"
  exec "$@"
fi

# Give the image's user the repository owner's ids (container-local files, so this is harmless).
if grep -q "^$user:" /etc/passwd; then
  sed -i -E "s/^($user:[^:]*):[0-9]+:[0-9]+:/\1:$uid:$gid:/" /etc/passwd
else
  echo "$user:x:$uid:$gid:poc runner:/home/$user:/bin/bash" >>/etc/passwd
fi
if grep -q "^$user:" /etc/group; then
  sed -i -E "s/^($user:[^:]*):[0-9]+:/\1:$gid:/" /etc/group
else
  echo "$user:x:$gid:" >>/etc/group
fi
home=$(grep "^$user:" /etc/passwd | cut -d: -f6)
mkdir -p "$home"
chown "$uid:$gid" "$home"

# The dependency volume was created for the image's default uid. Re-own it once — but only when
# it is a Docker volume: a bind-mounted node_modules belongs to the host and is left alone.
modules=$workdir/node_modules
if [[ -d $modules && $(stat -c %u "$modules") != "$uid" ]] &&
  awk -v m="$modules" '$5 == m && $4 ~ /\/volumes\/[^/]+\/_data$/ { found = 1 } END { exit !found }' \
    /proc/self/mountinfo; then
  note "giving the dependency volume to uid $uid (once)"
  chown -R "$uid:$gid" "$modules"
fi

export HOME=$home USER=$user LOGNAME=$user
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
