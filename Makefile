# tsxen - see README.md. Every target installs what it needs first (tools/setup.sh).
TSXEN    := node tools/tsxen.mjs
RUN_TESTS := node --import ./tools/ts-register.mjs tests/run.ts
EXAMPLES := $(wildcard examples/*/main.ts)
IMAGES   := $(patsubst examples/%/main.ts,build/%.xen,$(EXAMPLES))
# Anything that goes into an image.
IMAGE_DEPS := $(shell find runtime boot tools -type f -not -path "tools/rig/*") package-lock.json

.PHONY: all setup build demo test test-full test-unit test-xen typecheck clean fuzz soak
all: build

setup:
	@tools/setup.sh

build: setup $(IMAGES)

build/%.xen: examples/%/main.ts $(IMAGE_DEPS)
	$(TSXEN) build $< -o $@

# Builds examples/hello and boots it under real Xen (Xen 4.17 + Linux dom0 in QEMU).
demo: setup build/hello.xen
	$(TSXEN) run build/hello.xen

# Unit, sim, golden, typecheck and real-Xen tests; ends with "N passed, N failed".
test: setup
	@$(RUN_TESTS)

test-unit: setup
	@$(RUN_TESTS) $(shell find tests -name '*.test.ts' -not -path 'tests/xen/*' | sort)

test-xen: setup
	@$(RUN_TESTS) $(wildcard tests/xen/*.test.ts)

# make test with every real-Xen scenario in both boot modes (make test runs
# the ones the mode does not change as PV only: MODE_INDEPENDENT in
# tests/xen/rig-test.ts).
test-full: setup
	@TSXEN_XEN_MODES=all $(RUN_TESTS)

# The long seeded fuzz campaigns against the sim (make test runs a short one):
# about a million cases; prints cases/s and how to replay any failure.
# FUZZ_SCALE multiplies the case counts; FUZZ_SEED picks the seed.
fuzz: setup
	node --import ./tools/ts-register.mjs tests/fuzz/run.ts $${FUZZ_SEED:+--seed $$FUZZ_SEED}

# The long soak runs (make test runs short ones): in the sim 1,000,000
# strings, 100,000 xenstore cycles, 1,000,000 timer re-arms and watch writes,
# UDP from 100,000 senders; under real Xen the string loop 1,000,000 times in
# 16 MiB, udp-echo under 1,000,000 datagrams from 100,000 senders, and 10
# xl save + xl restore cycles in a row with dom0 pinging.
# The heap must stay flat; about an hour here.
soak: setup
	TSXEN_SOAK_SCALE=50 TSXEN_FLOOD_SOURCES=100000 $(RUN_TESTS) tests/sim/soak.test.ts tests/sim/allocations.test.ts tests/soak/xen.soak.ts tests/soak/suspend.soak.ts

typecheck: setup
	node_modules/.bin/tsc -p tsconfig.json

clean:
	rm -rf build

# tsxen vs a Linux PV domU on the real-Xen rig, plus a host compute figure
# (bench/run.ts); BENCH_N runs per figure (default 3). Writes bench/results/.
.PHONY: bench
bench: setup
	BENCH_N=$${BENCH_N:-3} node --import ./tools/ts-register.mjs bench/run.ts
