# gongdan — make targets. `make run` starts the embedded quickstart; `make test` runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/gongdan

.PHONY: all deps build run test test-short bench fmt vet lint clean screenshots vendor-web

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gongdan

run: deps build
	$(BIN) serve

# The whole suite, with the race detector. Suites against real servers run when
# GONGDAN_TEST_POSTGRES / GONGDAN_TEST_MQTT / GONGDAN_TEST_NATS are set (CI sets them).
test: deps vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test -race -count=1 -timeout 20m ./...
	@# The msgaudit variant (wechat.archive with WeCom's Finance SDK, cgo) builds, links and passes.
	CGO_ENABLED=1 LD_LIBRARY_PATH="$$($(GO) list -m -f '{{.Dir}}' github.com/silenceper/wechat/v2)/work/msgaudit/lib" \
		$(GO) test -tags msgaudit -count=1 ./connectors/wechat/ ./connectors/all/
	CGO_ENABLED=1 $(GO) build -tags msgaudit -o /dev/null ./cmd/gongdan

test-short:
	$(GO) test -short ./...

# Benchmarks recorded in docs/BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench 'Create|Actions' -benchtime 20000x -count 5 ./core/engine/
	$(GO) test -run '^$$' -bench ListNew -benchtime 2000x -count 5 -timeout 60m ./core/api/
	$(GO) test -run '^$$' -bench Decide -count 5 ./core/routing/
	$(GO) test -run '^$$' -bench Bus -benchtime 20000x -count 3 ./pipeline/bus/
	$(GO) test -run '^$$' -bench Add -count 5 ./core/sla/
	$(GO) test -run '^$$' -bench SLAStart -benchtime 3x -timeout 60m ./core/engine/

# The console's pictures in docs/screenshots (shown in the README), from the browser journey
# through a real server, at 1440×900 and 375×812.
screenshots: deps
	mkdir -p docs/screenshots
	GONGDAN_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestTheConsoleJourney' -v ./cmd/gongdan/

# htmx and ECharts from the npm registry into web/console/assets/vendor (see the script).
vendor-web:
	scripts/vendor-web.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
