# Both binaries in one small image that runs as a non-root user.
#   docker build -t chirp .
#   docker run --rm -e CHIRP_REDIS_URL=redis://redis:6379 -e CHIRP_JWT_SECRET=... -p 8080:8080 chirp
#   docker run --rm -e CHIRP_REDIS_URL=redis://redis:6379 chirp chirp-fanout-worker
# or the whole stack: compose.yaml.
#
# Dependencies are compiled in their own layer with cargo-chef: `prepare` reduces the workspace
# to a recipe (manifests + Cargo.lock), `cook` builds every dependency from that recipe alone, so
# the cooked layer is reused until Cargo.toml/Cargo.lock change, and a source change recompiles
# only Chirp's own crates.

FROM rust:1-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /src

# The recipe: only changes when a manifest or Cargo.lock does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin chirp-api --bin chirp-fanout-worker

FROM debian:bookworm-slim AS runtime
# ca-certificates: rediss:// (TLS) to a managed Redis. No curl: the compose healthchecks use
# bash's /dev/tcp (bash is in the base image), which keeps the image free of an HTTP client.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 chirp \
    && useradd --system --uid 10001 --gid chirp --no-create-home --shell /usr/sbin/nologin chirp
COPY --from=build /src/target/release/chirp-api /src/target/release/chirp-fanout-worker /usr/local/bin/
# Numeric, so that orchestrators can check it is not root (runAsNonRoot).
USER 10001:10001
ENV CHIRP_BIND=0.0.0.0:8080 \
    CHIRP_METRICS_BIND=0.0.0.0:9091 \
    CHIRP_LOG_FORMAT=json
EXPOSE 8080 9091
# No HEALTHCHECK here: the image runs either binary (see compose.yaml for one per role).
CMD ["chirp-api"]
