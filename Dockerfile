# syntax=docker/dockerfile:1
# The gateway image: built with dev dependencies, run with production dependencies only, as a non-root
# user, on Node 24 (Debian 13 "trixie" slim). The tag names the same Node release as .nvmrc and the npm
# `node` package, so the image runs what the tests ran (checked in gateway/test/unit/runtime-pins.test.ts).
#
#   docker build -t llm-gateway:0.1.0 .
#
# Run alone it needs a config with gateway keys (or `auth.mode: none`): listening on 0.0.0.0 without
# keys is refused. See "Run it in production" in the README.

FROM node:24.21.0-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the image has its own Node, so the npm `node` package's download is skipped, and no
# dependency's install script runs in the build.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY gateway/src gateway/src
RUN node scripts/build.mjs

FROM node:24.21.0-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM node:24.21.0-trixie-slim
# Memory: no MALLOC_ARENA_MAX and no --max-old-space-size, by measurement and by design. The usual
# MALLOC_ARENA_MAX=2 did not lower the gateway's memory: after 30 s of 64-connection streaming load
# (default config, DuckDB traces, Node 24.21, 2 cores) RSS was 342-355 MB with glibc's default arenas
# and 378-410 MB with two, two runs each (the process has 11 threads; V8's heap is not malloc's).
# What did lower it is how V8 grows its heap under load (benchmarks/README.md, "Memory"): CMD runs
# Node with the same heap options as `npm start` (package.json), which caps no heap — an application
# whose live data grows still gets the memory it needs, only garbage is collected sooner.
# MALLOC_MMAP_THRESHOLD_ (as `npm start` sets it): glibc serves blocks from 128 KiB up with their own
# mappings, returned when freed. Left to itself glibc raises that threshold after each large free and
# keeps ever more freed memory in its per-thread arenas: across saturation scenarios RSS rose by
# 40-70 MB while memory in use stayed at 15 MB (benchmarks/README.md, item 7 of "The default configuration").
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    HOST=0.0.0.0 \
    PORT=8787
WORKDIR /app
# Code and dependencies belong to root and are read-only to the gateway's user; only data/ is writable.
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY clickhouse clickhouse
COPY dashboard dashboard
COPY package.json ./
RUN mkdir -p /app/data && chown 1000:1000 /app/data
# The image's `node` user, by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8787
VOLUME ["/app/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains in-flight requests (server.shutdownGraceMs) and flushes traces before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=4", "--initial-old-space-size=32", "--heap-growing-percent=50", "dist/main.js"]
