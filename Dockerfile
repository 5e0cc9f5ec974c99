# Builds both servers into one small image; docker-compose.yml picks the
# command per service.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins -p auth-server -p api-server

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/auth-server /src/target/release/api-server /usr/local/bin/
WORKDIR /app
USER 10001
