# syntax=docker/dockerfile:1
# ees container image. Two stages, both Debian 12 (bookworm), so the -dev packages the build links
# against and the runtime packages installed below are the same library versions (sonames).
#
#   docker build -t ees:local .
#   docker run --rm ees:local --help
#
# Build args: SWIFT_IMAGE (an official Swift image on bookworm, >= the tools version of
# Package.swift), RUNTIME_IMAGE. The binary uses AVX2 (docs/decisions/0003-simdjson-avx2.md):
# run it on x86-64 CPUs from 2013 on (Haswell / Excavator) or newer.

ARG SWIFT_IMAGE=swift:6.2-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------- build
FROM ${SWIFT_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The C libraries SwiftPM links through its systemLibrary targets (Package.swift).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4-openssl-dev libhiredis-dev libmicrohttpd-dev libpq-dev libsimdjson-dev \
      libsodium-dev pkg-config zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# SwiftPM loads every target of the manifest, test targets included, even for one product.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# --static-swift-stdlib: the Swift runtime and Foundation go into the binary, so the runtime image
# needs no Swift toolchain, only the C libraries below.
RUN swift build -c release --product ees --static-swift-stdlib \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/ees" /out/ees

# -------------------------------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Exactly what `ldd ees` names beyond libc (plus CA certificates for https:// S3 endpoints):
# hiredis 0.14, libpq 5, libcurl 4, libmicrohttpd 12, libsodium 23, simdjson 14 (C++: libstdc++),
# zlib.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libhiredis0.14 libmicrohttpd12 libpq5 libsimdjson14 \
      libsodium23 libstdc++6 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ees \
 && useradd --system --uid 10001 --gid ees --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin ees
COPY --from=build /out/ees /usr/local/bin/ees
# Fail the image build, not the first pod, when a shared library is missing.
RUN if ldd /usr/local/bin/ees | grep -q 'not found'; then ldd /usr/local/bin/ees; exit 1; fi \
 && /usr/local/bin/ees --help >/dev/null

# Numeric user so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
# In a container the HTTP port must listen on all interfaces (the binary's default is loopback).
ENV EES_LISTEN=0.0.0.0:8080
EXPOSE 8080
# ees handles SIGTERM itself (drain, release leases, bounded stop), so it can be PID 1 directly.
ENTRYPOINT ["/usr/local/bin/ees"]
CMD ["serve"]
