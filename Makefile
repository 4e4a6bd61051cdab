VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test test-servers lint fmt bench demo clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/mailkeep ./cmd/mailkeep

# The servers the tests start (Dovecot, Cyrus, Courier), then every test.
test: test-servers
	go test -race -shuffle=on -count=1 -timeout 30m ./...

# Installs Dovecot and unpacks Cyrus and Courier; does nothing when they are there.
test-servers:
	scripts/test-servers.sh

lint:
	gofmt -l $$(git ls-files '*.go') | tee /dev/stderr | (! read)
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

demo:
	go run ./cmd/mailkeep demo

bench: build
	bench/run.sh

clean:
	rm -rf bin mailkeep-demo
