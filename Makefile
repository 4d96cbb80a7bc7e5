# latte: two commands get a fresh Debian machine from nothing to a verified model:
#   make demo   installs what is missing, builds, runs the main job on the bundled example
#   make test   installs what is missing, builds, runs every test
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
BIN := .build/$(CONFIG)/latte
LIB := .build/$(CONFIG)/liblatte-c.so
# The Python package's virtual environment (numpy, ml_dtypes, pytest; never torch).
PYVENV := .build/pyvenv
PY := $(PYVENV)/bin/python
APT_PACKAGES := libzstd-dev libjson-c-dev libopenblas-dev libssl-dev pkg-config zstd
DEMO := fixtures/models/tiny

.PHONY: all deps build pyvenv demo test python-test bench fuzz sanitize clean

all: build

# Installs the system libraries (pkg-config names libzstd, json-c, openblas) when missing.
deps:
	@missing=""; \
	for pc in libzstd json-c openblas libcrypto; do pkg-config --exists $$pc 2>/dev/null || missing=1; done; \
	command -v zstd >/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi
	@# The schema tests validate real output with python3's jsonschema.
	@python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install -q jsonschema 2>/dev/null || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq python3-jsonschema >/dev/null; }

build: deps
	$(SWIFT) build -c $(CONFIG) --product latte
	$(SWIFT) build -c $(CONFIG) --product latte-c

# A venv with what the Python package and its tests need, made once.
pyvenv:
	@# Debian's python3 makes venvs only with python3-venv installed.
	@[ -x $(PY) ] || { rm -rf $(PYVENV); python3 -m venv $(PYVENV) 2>/dev/null || { rm -rf $(PYVENV); \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(PYVENV); } \
	  && $(PY) -m pip install -q numpy ml_dtypes pytest setuptools wheel; }

# The main job on the bundled tiny LaTtE-Flow model: convert it (reference outputs embedded),
# look at the file and its expert-group plan, then verify it end to end.
DEMO_OUT := .build/demo/tiny.latte
demo: build
	@mkdir -p $(dir $(DEMO_OUT))
	@echo "== latte convert $(DEMO) -o $(DEMO_OUT) --reference $(DEMO)"
	$(BIN) convert $(DEMO) -o $(DEMO_OUT) --reference $(DEMO)
	@echo; echo "== latte inspect --no-tensors $(DEMO_OUT)"
	$(BIN) inspect --no-tensors $(DEMO_OUT)
	@echo; echo "== latte map $(DEMO)"
	$(BIN) map $(DEMO)
	@echo; echo "== latte verify $(DEMO_OUT) --source $(DEMO)"
	$(BIN) verify $(DEMO_OUT) --source $(DEMO)
	@echo; echo "== python3 -m pip install python/  (the package, liblatte.so included), then latte.load_file"
	@$(MAKE) --no-print-directory pyvenv
	$(PY) -m pip install -q --no-build-isolation ./python
	cd /tmp && $(CURDIR)/$(PY) -c 'import latte; t = latte.load_file("$(CURDIR)/$(DEMO_OUT)", framework="np"); \
	  [print(f"{n:50s} {str(a.dtype):8s} {a.shape}") for n, a in list(t.items())[:6]]; \
	  f = latte.safe_open("$(CURDIR)/$(DEMO_OUT)", framework="np"); \
	  print(len(t), "tensors;", "group of t=0.7:", f.group_of(0.7), "holds", len(f.get_group(f.group_of(0.7))), "tensors")'

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	@$(MAKE) --no-print-directory python-test
	@# A short deterministic fuzz run keeps every fuzz target building and passing.
	bash fuzz/run.sh --smoke

# The Python package over the debug library and CLI that `swift build --build-tests` made.
python-test: pyvenv
	LATTE_LIBRARY_SOURCE=$(CURDIR)/.build/debug/liblatte-c.so $(PY) -m pip install -q --no-build-isolation --force-reinstall --no-deps ./python
	cd /tmp && LATTE_BIN=$(CURDIR)/.build/debug/latte $(CURDIR)/$(PY) -m pytest -q $(CURDIR)/python/tests

# Fuzz every parser for FUZZ_SECONDS each (default 60); findings land in fuzz/crashes/.
fuzz: deps
	bash fuzz/run.sh

# The threaded read paths' test suites under ThreadSanitizer and AddressSanitizer (minutes each).
sanitize: deps
	bash fuzz/sanitize.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf .build .build-fuzz .build-thread .build-address
