# The two commands a new user needs:
#   make run    installs what is missing, builds govirtd and runs it in the foreground
#   make test   runs the whole test suite (race detector on)
GO ?= go
STATE ?= $(CURDIR)/.state
SOCK ?= $(STATE)/run/govirt-sock

.PHONY: run test build deps fuzz bench clean

build:
	$(GO) build -o govirtd ./cmd/govirtd

deps:
	./scripts/install-deps.sh

run: deps build
	@echo "connect with: virsh -c 'test+unix:///default?socket=$(SOCK)'"
	./govirtd --state-dir $(STATE)/lib --run-dir $(STATE)/run --socket $(SOCK) --socket-ro $(STATE)/run/govirt-sock-ro

test: deps
	$(GO) test -race -count=1 ./...

fuzz:
	./scripts/fuzz-short.sh

bench: build
	$(GO) run ./bench

clean:
	rm -rf govirtd $(STATE)
