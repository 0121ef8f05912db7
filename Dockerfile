# syntax=docker/dockerfile:1
# Build: docker build -t gongdan .
# Run:   docker run -p 8080:8080 -v gongdan-data:/data -v $PWD/gongdan.yaml:/etc/gongdan/gongdan.yaml:ro gongdan
# The config must listen on 0.0.0.0:8080 with real tokens: demo tokens are refused off loopback.
FROM golang:1.26-bookworm AS build
# The OCR connector links Tesseract through cgo (gosseract).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtesseract-dev libleptonica-dev g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gongdan ./cmd/gongdan

# Debian slim rather than distroless: the OCR connector needs Tesseract and its Chinese and
# English data (tessdata) from Debian's packages at run time.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data gongdan \
 && mkdir -p /data && chown gongdan /data
COPY --from=build /out/gongdan /usr/local/bin/gongdan
# One OpenMP thread per recognition (gongdan would otherwise set it and execute itself again).
ENV OMP_THREAD_LIMIT=1
USER gongdan
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["gongdan"]
CMD ["serve", "--config", "/etc/gongdan/gongdan.yaml", "--data", "/data"]
