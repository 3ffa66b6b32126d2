# syntax=docker/dockerfile:1
# v720-bridge on Debian bookworm with Node 22 LTS (decisions.md 22), Debian's ffmpeg and tini.
#   docker build -t v720-bridge .
#   docker run -d --network host -v ./config:/config -v ./data:/data v720-bridge
# Host networking is the normal way to run it: the cameras need fixed ports (80, 6123 TCP+UDP, 1883)
# and the address the bridge advertises must be the host's (see docs/setup.md).

# ---- build: compile TypeScript to dist/ -------------------------------------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" script would compile before the sources are copied.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies only --------------------------------------------------
FROM node:22-bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    V720_CONFIG=/config/config.yaml \
    V720_DATA_DIR=/data
COPY package.json package-lock.json ./
# No optional packages (ffmpeg-static would download a binary; Debian's ffmpeg is on PATH) and no scripts.
RUN npm ci --omit=dev --omit=optional --ignore-scripts \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config.example.yaml ./
RUN ln -s /app/bin/v720-bridge.js /usr/local/bin/v720-bridge \
    && mkdir -p /config /data
VOLUME ["/config", "/data"]

# 80 bootstrap, 6123 camera TCP+UDP, 1883 embedded MQTT broker, 8099 web UI/API, 8554 RTSP, 53/udp DNS (optional).
EXPOSE 80/tcp 6123/tcp 6123/udp 1883/tcp 8099/tcp 8554/tcp 53/udp

# /healthz never needs credentials. With another http.port, set it as V720_HTTP__PORT so this check follows.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.V720_HTTP__PORT || 8099) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Runs as root: ports 80 and 53 are privileged (or run as a user with CAP_NET_BIND_SERVICE).
# First start: /config/config.yaml is created from the example (every key, defaults, comments).
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "[ -f \"$V720_CONFIG\" ] || cp /app/config.example.yaml \"$V720_CONFIG\"; exec node /app/dist/main.js \"$@\"", "v720-bridge"]
CMD ["serve"]
