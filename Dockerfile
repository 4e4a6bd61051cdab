# syntax=docker/dockerfile:1
#
# mailkeep in a container: the agent ("mailkeep run") by default.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t mailkeep .
#   docker run -d --name mailkeep -v mailkeep-data:/data -p 127.0.0.1:9464:9464 mailkeep
#
# /data holds the configuration (/data/mailkeep.yaml) and the archive
# (archive: /data/archive, or "archive" relative to the file).

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mailkeep ./cmd/mailkeep
# The volume's mount point, owned by the user that runs mailkeep.
RUN mkdir -p /out/data

# Static binary on distroless: CA certificates, time zones, a nonroot user,
# no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mailkeep /usr/local/bin/mailkeep
COPY --from=build --chown=65532:65532 /out/data /data
ENV MAILKEEP_CONFIG=/data/mailkeep.yaml
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
# Prometheus /metrics and /healthz, when the config says agent.metrics: ":9464".
EXPOSE 9464
# Unhealthy when an account's last successful backup is older than its bound
# (see "mailkeep status --help"); reads the catalogs, needs no HTTP client.
HEALTHCHECK --interval=5m --timeout=30s --start-period=1m --retries=3 CMD ["mailkeep", "status", "--check"]
ENTRYPOINT ["mailkeep"]
CMD ["run"]
