# syntax=docker/dockerfile:1
# Multi-stage build of the operator: a static-ish release binary on a distroless, non-root base.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin && echo 'fn main() {}' > src/bin/talkturo-operator.rs \
    && echo 'fn main() {}' > src/bin/talkturo-sim.rs && echo 'fn main() {}' > src/bin/talkturo-testenv.rs \
    && touch src/lib.rs && cargo fetch --locked
COPY src ./src
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
