# Multi-stage build: a static flowbot binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flowbot ./cmd/flowbot && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowbot /flowbot
# The volume must belong to the non-root user (uid 65532) so bbolt can write.
COPY --from=build --chown=65532:65532 /out/data /data
ENV FLOWBOT_DATA_DIR=/data FLOWBOT_ADDR=:8080
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/flowbot"]
