# coopol: every target is one or two commands a person could type.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
DBURL = $$(scripts/pg-up.sh | tail -n 1 | cut -d= -f2-)
DEMO_DIR ?= .data/demo

.PHONY: run db test bench bench-ingest bench-tiles bench-cross lint build fuzz clean-db

run: build     ## PostGIS (installed if missing), migrate, demo territory, serve 127.0.0.1:8080
	url=$(DBURL) && bin/coopol migrate -db "$$url" && \
	bin/coopol demo -db "$$url" -dir $(DEMO_DIR) && bin/coopol serve -db "$$url"

db:            ## start (or reuse) the local PostGIS cluster; last line: DATABASE_URL=…
	@scripts/pg-up.sh

test:          ## every test against a throw-away PostGIS; fails rather than skips
	scripts/test-deps.sh
	url=$(DBURL) && TEST_DATABASE_URL="$$url" REQUIRE_DB=1 go test -race -count=1 ./...

bench:         ## ten runs per Go benchmark, ready for benchstat
	url=$(DBURL) && TEST_DATABASE_URL="$$url" go test -run='^$$' -bench=. -count=10 ./... | tee bench.txt

bench-ingest:  ## ingestion at France scale, beside ogr2ogr; figures in bench-ingest.txt
	scripts/bench-ingest.sh | tee bench-ingest.txt

bench-tiles: build  ## tiles at France scale: worst tile per zoom, naive ST_AsMVT ratio, load; bench-tiles.txt
	scripts/bench-tiles.sh | tee bench-tiles.txt

bench-cross: build  ## apportionment, crosstab and exports at France scale, beside naive PostGIS; bench-cross.txt
	scripts/bench-cross.sh | tee bench-cross.txt

fuzz:          ## a minute per parser fuzz target
	scripts/fuzz.sh 60s

lint:
	test -z "$$(gofmt -l .)" && go vet ./...

build:
	go build -o bin/coopol ./cmd/coopol

clean-db:      ## stop the local cluster and delete its data
	scripts/pg-down.sh
