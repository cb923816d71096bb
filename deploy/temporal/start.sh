#!/bin/sh
# Starts one Temporal service (frontend, history, matching or worker) from deploy/temporal/poc.yaml.
# Each service advertises its own container address for membership, found here because Compose
# cannot put it in the environment.
set -eu
service="${1:?usage: start.sh frontend|history|matching|worker}"
POC_BIND_IP="$(getent hosts "$(hostname)" | awk '{ print $1; exit }')"
[ -n "$POC_BIND_IP" ] || { echo "start.sh: cannot find this container's address" >&2; exit 1; }
export POC_BIND_IP
exec temporal-server --root /etc/temporal --config config --env poc --allow-no-auth start --service "$service"
