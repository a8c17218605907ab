# syntax=docker/dockerfile:1
#
# atrium as a minimal image: one static (musl) binary on `scratch`, running
# as a non-root user. The same image serves
#   - ECS/Fargate behind an ALB, or `docker run -p 8080:8080 atrium`;
#   - Lambda, as a container image: Lambda sets AWS_LAMBDA_RUNTIME_API and
#     the binary serves Lambda events instead of TCP (set
#     APP_LAMBDA_HANDLER=events for the stream and S3 function).
#
#   docker build -t atrium .
#
# `scripts/test-container` builds the binary the way the build stage does
# and runs the `runtime` stage below, verbatim, with podman.

ARG RUST_VERSION=1.95
ARG TARGET=x86_64-unknown-linux-musl

FROM rust:${RUST_VERSION}-bookworm AS build
ARG TARGET
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add "${TARGET}"
WORKDIR /src

# The dependencies in a layer of their own, rebuilt only when Cargo.toml or
# Cargo.lock change: compiled against an empty crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --target "${TARGET}" \
 && rm -rf src

COPY migrations migrations
COPY src src
# Stripped on the way out (`install -s`); /out/data becomes the writable
# data directory of the non-root user.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --target "${TARGET}" --bin atrium \
 && install -D -s "target/${TARGET}/release/atrium" /out/atrium \
 && install -d /out/data

# ---- runtime: everything below is what ships ----
FROM scratch AS runtime
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=10001:10001 /out/data /data
COPY --from=build /out/atrium /atrium
USER 10001:10001
# Relative to here, the default data directory `data` is /data (on Lambda
# the binary uses /tmp/atrium, the only writable place there).
WORKDIR /
ENV APP_HOST=0.0.0.0 \
    PORT=8080 \
    APP_LOG_FORMAT=json \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EXPOSE 8080
# No curl in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/atrium", "healthcheck"]
ENTRYPOINT ["/atrium"]
