# Multi-stage build of both binaries into a small runtime image that runs as a non-root user.
#   docker build -t chirp .
#   docker run --rm -e CHIRP_REDIS_URL=redis://redis:6379 -e CHIRP_JWT_SECRET=... -p 8080:8080 chirp
#   docker run --rm -e CHIRP_REDIS_URL=redis://redis:6379 chirp chirp-fanout-worker
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p chirp-api -p chirp-fanout-worker

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home chirp
COPY --from=build /src/target/release/chirp-api /src/target/release/chirp-fanout-worker /usr/local/bin/
USER chirp
ENV CHIRP_BIND=0.0.0.0:8080 \
    CHIRP_METRICS_BIND=0.0.0.0:9091 \
    CHIRP_LOG_FORMAT=json
EXPOSE 8080 9091
CMD ["chirp-api"]
