# fleet-exec: one image for the API and the worker (the command picks which).
# Members are reached over SSH (or, for transport "local", inside this container).

# The native spawn helper for local members (packages/exec/src/os/linux-spawn-helper.c), compiled
# here so that the image needs no compiler; without it, local runs use the shell helper.
FROM node:20-bookworm-slim AS spawn-helper
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY packages/exec/src/os/linux-spawn-helper.c packages/exec/src/os/linux-spawn-native.ts ./packages/exec/src/os/
RUN npm install --no-save --no-package-lock tsx@4.23.15 --no-audit --no-fund \
 && node --import tsx --input-type=module -e "const m = await import('./packages/exec/src/os/linux-spawn-native.ts'); const p = await m.buildSpawnHelper({ dir: 'packages/exec/build', cc: 'cc' }); if (!p) process.exit(1);"

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client procps util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
COPY --from=spawn-helper /app/packages/exec/build ./packages/exec/build
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm install --no-save tsx@4.23.15 --no-audit --no-fund
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
USER node
EXPOSE 8080
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
