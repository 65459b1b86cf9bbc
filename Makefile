# hoopsync - thin wrapper around CMake/CTest. See README.md.
#   make demo   install what is missing, build, run the demo (SQLite + sandbox)
#   make test   install, build, lint, run every test plain and under ASan+UBSan, short fuzz runs
#   make bench  build, run the benchmarks (bench/README.md): sandbox throughput, then the
#               10,000/10,000 backfill with rate limits off and on (BENCH_ARGS for backfill,
#               e.g. BENCH_ARGS="--companies 2000 --deals 2000"); never part of `make test`
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
DEMO_BUILD  ?= build-demo
FUZZ_SECONDS ?= 10
BENCH_ARGS  ?=
CLANG       ?= clang-14
CTEST_FLAGS ?= --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all deps build build-asan build-fuzz test test-plain test-asan fuzz fuzz-short lint \
        format demo bench clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DHS_WERROR=ON >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@[ -f $(ASAN_BUILD)/CMakeCache.txt ] || CC=$(CLANG) cmake -S . -B $(ASAN_BUILD) -DHS_WERROR=ON \
		-DHS_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

build-fuzz: deps
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || CC=$(CLANG) cmake -S . -B $(FUZZ_BUILD) -DHS_WERROR=ON \
		-DHS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets

test-plain: build
	cd $(BUILD) && ctest $(CTEST_FLAGS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest $(CTEST_FLAGS)

test: lint test-plain test-asan fuzz-short

# Short bounded fuzz runs of every target (make test); `make fuzz FUZZ_SECONDS=600` for longer.
fuzz-short: build-fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tools/fuzz.sh $(FUZZ_BUILD)

fuzz: build-fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tools/fuzz.sh $(FUZZ_BUILD)

lint: build
	@bash tools/lint.sh $(BUILD)

format:
	@git ls-files -co --exclude-standard -- 'src/*.[ch]' 'include/*.h' 'sandbox/*.[ch]' \
		'tests/*.[ch]' 'fuzz/*.[ch]' 'bench/*.[ch]' | xargs -r clang-format -i

# The demo needs only the CLI (the sandbox runs inside it): that target alone, unoptimized
# and without debug info, in its own build dir (the quickest build), and no Prism.
demo:
	@HS_SKIP_PRISM=1 bash scripts/deps.sh
	@[ -f $(DEMO_BUILD)/CMakeCache.txt ] || cmake -S . -B $(DEMO_BUILD) -DHS_WERROR=ON \
		-DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS=-O0 >/dev/null
	cmake --build $(DEMO_BUILD) -j$(JOBS) --target hoopsync
	$(DEMO_BUILD)/bin/hoopsync demo

bench: build
	$(BUILD)/bin/sandbox
	$(BUILD)/bin/backfill $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(DEMO_BUILD)
