# Inlet: the `inlet` binary and the Rust plugins of plugins/, on a slim Debian.
# Build: docker build -t inlet .      Run: see docker-compose.yml and docs/KIBANA.md.

# --- build: host binary + Rust plugins (wasm32-wasip2 components) ----------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
RUN cargo build --release -p inlet \
 && scripts/build-plugins --rust
# A plugin directory as an operator lays it out: plugin.toml + component, no sources.
RUN mkdir -p /out/plugins \
 && for p in plugins/*/; do \
      [ -f "$p/plugin.toml" ] || continue; \
      c=$(sed -n 's/^component = "\(.*\)"/\1/p' "$p/plugin.toml"); \
      [ -f "$p/$c" ] || continue; \
      mkdir -p "/out/plugins/$(basename "$p")"; \
      cp "$p/plugin.toml" "$p/$c" "/out/plugins/$(basename "$p")/"; \
    done

# --- run ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data inlet \
 && mkdir -p /data /config \
 && chown inlet /data
COPY --from=build /src/target/release/inlet /usr/local/bin/inlet
COPY --from=build /out/plugins /opt/inlet/plugins
USER inlet
VOLUME /data
ENTRYPOINT ["inlet"]
CMD ["run", "--config", "/config/config.yml", "--plugins", "/opt/inlet/plugins"]
