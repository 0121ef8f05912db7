# syntax=docker/dockerfile:1
# Build: docker build -t gongdan .
# Run:   docker run -p 8080:8080 -v gongdan-data:/data -v $PWD/gongdan.yaml:/etc/gongdan/gongdan.yaml:ro gongdan
# The config must listen on 0.0.0.0:8080 with real tokens: demo tokens are refused off loopback.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gongdan ./cmd/gongdan

# Debian slim rather than distroless: later versions need Debian's tesseract-ocr packages at run time.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data gongdan \
 && mkdir -p /data && chown gongdan /data
COPY --from=build /out/gongdan /usr/local/bin/gongdan
USER gongdan
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["gongdan"]
CMD ["serve", "--config", "/etc/gongdan/gongdan.yaml", "--data", "/data"]
