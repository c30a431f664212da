# dermbridge for docker-compose.yml. Node 24 (what @medplum/core 5.2 needs) is the base image's own.

# Build stage: the bots' CommonJS bundles (dist/bots/*.js), which dermbridge deploys to Medplum at
# start (DERMBRIDGE_DEPLOY_BOTS_ON_START). esbuild is a dev dependency, so it stays in this stage.
FROM node:24-bookworm-slim AS bots
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node --no-warnings=ExperimentalWarning --import tsx bots/build.ts

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Dependencies first, so a code change does not reinstall them. tsx (which runs our TypeScript) is
# a runtime dependency; dev tools (typescript, mocha, the `node` npm package) are left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
COPY --from=bots /app/dist/bots ./dist/bots
RUN mkdir -p /data && chown node:node /data
# jemalloc instead of glibc's malloc (sharp's advice on glibc Linux): the photo buffers libvips frees
# go back to the OS. Measured on the embedded server after 12 MP intakes: ~0.7 GiB resident instead
# of ~1.1–1.2 GiB (docs/deployment.md, "Sizing"). The link gives one path on amd64 and arm64.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(find /usr/lib -name libjemalloc.so.2 | head -n 1)" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
USER node
ENV HOST=0.0.0.0 PORT=8080 DERMBRIDGE_DATA_DIR=/data
EXPOSE 8080
CMD ["node", "--no-warnings=ExperimentalWarning", "--import", "tsx", "src/main.ts"]
