# sse-relay container image: `docker build -t sse-relay:0.1.0 .` then `docker run -p 8080:8080 -e AUTH_MODE=none sse-relay:0.1.0`
# (a try-out without tokens; auth is on by default and stops the start until AUTH_JWT_SECRET is set. Production sets
# AUTH_JWT_SECRET or AUTH_JWKS_URL, SOURCE and REDIS_URL: k8s/base/configmap.yaml and secret.example.yaml).
# Two stages: the build stage compiles TypeScript with the dev toolchain; the runtime stage holds only production
# dependencies, dist/ and public/.

ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are not needed to compile (tsc is plain JS); optional deps (the native AWS Lambda runtime client) are
# for the Lambda build only.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY functions ./functions
COPY publisher ./publisher
# The CLI's `sse-relay tail` compiles against the browser client's declarations (public/*.d.ts).
COPY public ./public
RUN npm run build

FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY public ./public
# Numeric IDs (the image's `node` user) so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 1000:1000
EXPOSE 8080
# For `docker run` only; Kubernetes uses the /healthz and /readyz probes of k8s/base/deployment.yaml instead.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, no shell and no init: node is PID 1 and receives SIGTERM itself. PID 1 gets no default signal
# dispositions, which is fine because server.ts installs its own SIGTERM/SIGINT handlers (readiness off, drain,
# exit); node spawns no children, so there are no zombies to reap. Use `docker run --init` if you add children.
CMD ["node", "dist/functions/server.js"]
