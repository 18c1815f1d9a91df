# fleet-exec: one image for the API and the worker (the command picks which).
# Members are reached over SSH (or, for transport "local", inside this container).

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client procps util-linux ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm install --no-save tsx@4.23.15 --no-audit --no-fund
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
USER node
EXPOSE 8080
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
