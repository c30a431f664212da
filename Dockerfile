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
USER node
ENV HOST=0.0.0.0 PORT=8080 DERMBRIDGE_DATA_DIR=/data
EXPOSE 8080
CMD ["node", "--no-warnings=ExperimentalWarning", "--import", "tsx", "src/main.ts"]
