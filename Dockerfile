# dermbridge for docker-compose.yml. Node 24 (what @medplum/core 5.2 needs) is the base image's own.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Dependencies first, so a code change does not reinstall them. tsx (which runs our TypeScript) is
# a runtime dependency; dev tools (typescript, mocha, the `node` npm package) are left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
ENV HOST=0.0.0.0 PORT=8080 DERMBRIDGE_DATA_DIR=/data
EXPOSE 8080
CMD ["node", "--no-warnings=ExperimentalWarning", "--import", "tsx", "src/main.ts"]
