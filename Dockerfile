# syntax=docker/dockerfile:1
# Multi-stage build of the operator: a release binary on a distroless, non-root base.
#
# Dependencies are compiled in their own layer (cargo-chef): a change to the project's sources
# reuses it and recompiles only this crate (the fat-LTO link still runs, over cached objects).

FROM rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# The dependency recipe: Cargo.toml, Cargo.lock and the target layout, not the sources.
FROM chef AS planner
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Changes only when the dependencies do.
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin talkturo-operator
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The workspace's other crates (simulator, test environment, benchmarks): cargo reads their
# manifests; the operator's binary links none of them.
COPY crates ./crates
COPY hack/testenv/versions.env ./hack/testenv/versions.env
RUN cargo build --release --locked --bin talkturo-operator \
    && cp target/release/talkturo-operator /talkturo-operator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="talkturo-operator" \
      org.opencontainers.image.description="Kubernetes operator for Talkturo phone numbers" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /talkturo-operator /usr/local/bin/talkturo-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/talkturo-operator"]
CMD ["run"]
