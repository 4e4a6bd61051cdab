VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test lint fmt bench demo clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/mailkeep ./cmd/mailkeep

test:
	go test -race -shuffle=on -count=1 ./...

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
