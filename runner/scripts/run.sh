#!/usr/bin/env bash
# run: the `poc` command line, e.g.
#   bash runner/scripts/run.sh llm --backend ollama --model llama3.1 --prompt hello
# (calls the provider directly, no Temporal needed) or any other `poc` command (see README).
# Runs from the repository root; in the container that is /workspace.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# Like the original tool, `run.sh llm …` asks the provider directly: no Temporal needed.
if [ "${1:-}" = llm ]; then
  case " $* " in
    *" --direct "*) ;;
    *) set -- "$@" --direct ;;
  esac
fi
# --no: use the project's own tsx, never fetch one.
exec npx --no tsx cli/main.ts "$@"
