# snowstream image: `snowstream` (serve, healthcheck, ...) and `snowstream-gen` (the generator).
# Build:  docker build -t snowstream:local .
# Run:    docker run --rm -p 8080:8080 snowstream:local            (serve, local sink)

# ---- build stage: compile both binaries exactly as CI does (--locked) -----------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# No system libraries needed: TLS is rustls, SQLite is bundled, zstd/gzip build with cc.
COPY . .
# The image ships without debug info (the profile's line tables are for local profiling: the
# binary is 209 MB with them, 42 MB without), symbols kept so a backtrace still names functions.
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo
# BuildKit cache mounts keep the registry and target/ between builds; the binaries are copied out
# of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p snowstream \
    && install -D -m 0755 target/release/snowstream /out/snowstream \
    && install -D -m 0755 target/release/snowstream-gen /out/snowstream-gen

# ---- runtime stage: slim Debian, no compiler, no shell tools needed by the app --------------
FROM debian:bookworm-slim AS runtime
# CA bundle for HTTPS to S3 and Snowflake, taken from the build image (no apt run needed here).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/snowstream /out/snowstream-gen /usr/local/bin/
RUN groupadd --system --gid 10001 snowstream \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /var/lib/snowstream --create-home --shell /usr/sbin/nologin snowstream
ENV SNOWSTREAM_LISTEN=0.0.0.0:8080 \
    SNOWSTREAM_DATA_DIR=/var/lib/snowstream \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /var/lib/snowstream
USER 10001:10001
# 8080: ListenHTTP-compatible endpoint, /healthcheck, /metrics; 9000: S3 API (--s3-listen).
EXPOSE 8080 9000
# Slim images have no curl: the binary checks itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["snowstream", "healthcheck", "--url", "http://127.0.0.1:8080/healthcheck"]
ENTRYPOINT ["snowstream"]
CMD ["serve"]
