# The `poc` image of deploy/compose.yaml: the repository with its dependencies, run through tsx
# (no build step), plus the Docker CLI and docker-compose a worker's pipeline steps call through
# the host's Docker socket, and openssl for the stack's certificates (cluster/certs.ts).
#
#   docker build -f deploy/poc.Dockerfile -t poc-orchestrator:latest .
#
# Build context: the repository root. deploy/poc.Dockerfile.dockerignore keeps node_modules, .git
# and run folders out (BuildKit reads it; the classic builder reads a .dockerignore at the root).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}

RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker.io docker-compose git openssl ca-certificates tini; \
    rm -rf /var/lib/apt/lists/*; \
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
      || { echo "Node 20 or newer is required; pick another NODE_IMAGE" >&2; exit 1; }

WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency: production dependencies are all the image needs.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .

ENV NODE_ENV=production \
    npm_config_update_notifier=false
# tini forwards SIGTERM, so `docker stop` lets the worker finish its tasks and stop in order.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "tsx", "cli/main.ts"]
CMD ["worker"]
