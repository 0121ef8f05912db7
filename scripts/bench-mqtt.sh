#!/usr/bin/env bash
# One measurement of issue 6's end-to-end figures, as docs/BENCHMARKS.md quotes them: a fresh
# Mosquitto of its own, a fresh gongdan serve (configs/examples/mqtt-bench.yaml) on it, and
# `gongdan bench mqtt` against both; or, with BASELINE=1, the broker alone (a plain subscriber).
#
#   go build -o /tmp/gongdan ./cmd/gongdan
#   scripts/bench-mqtt.sh                                # as fast as the broker takes it
#   RATE=1000 DUR=20s BREACH=0.02 scripts/bench-mqtt.sh  # breach-to-ticket latency at 1,000/s
#   BASELINE=1 scripts/bench-mqtt.sh                     # Mosquitto alone, the same load
#
# Settings: GONGDAN (the binary, default /tmp/gongdan), INFLIGHT (Mosquitto's
# max_inflight_messages, default 100), RATE (messages/s, 0: as fast as possible), DUR, DEVICES,
# BREACH (share of breaching devices), PORT (the broker's, default 18833), HTTP (gongdan's,
# default 127.0.0.1:18080). Prints the bench's JSON report.
set -euo pipefail
bin=${GONGDAN:-/tmp/gongdan}
port=${PORT:-18833}
http=${HTTP:-127.0.0.1:18080}
dir=$(mktemp -d)
trap 'kill $gpid $mpid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
gpid= mpid=
cat > "$dir/mosquitto.conf" <<EOC
listener $port 127.0.0.1
allow_anonymous true
max_inflight_messages ${INFLIGHT:-100}
max_queued_messages 0
persistence false
EOC
mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 &
mpid=$!
sleep 0.3
export GONGDAN_BENCH_TOKEN=${GONGDAN_BENCH_TOKEN:-bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
export GONGDAN_BENCH_BROKER=tcp://127.0.0.1:$port
if [ -n "${BASELINE:-}" ]; then
  target=(--baseline)
else
  "$bin" serve --http "$http" --config "$(dirname "$0")/../configs/examples/mqtt-bench.yaml" --data "$dir" > "$dir/gongdan.log" 2>&1 &
  gpid=$!
  for _ in $(seq 100); do curl -sf "http://$http/readyz" > /dev/null && break; sleep 0.1; done
  sleep 1 # the connector subscribes
  target=(--gongdan "http://$http")
fi
"$bin" bench mqtt --broker "tcp://127.0.0.1:$port" "${target[@]}" --devices "${DEVICES:-10000}" \
  --rate "${RATE:-0}" --duration "${DUR:-15s}" --breach-ratio "${BREACH:-0.001}" --json
