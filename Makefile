# Every target makes its own virtualenv (.venv) and installs what it needs, pinned.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOME_DIR ?= $(or $(QUANTDESK_HOME),.quantdesk)

.PHONY: install demo test lint bench mutation clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "quantdesk needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/quantdesk --home $(HOME_DIR) data synth --instruments 3 --days 10 --seed 7
	$(BIN)/quantdesk --home $(HOME_DIR) data list
	for f in examples/strategies/*.yaml; do \
		$(BIN)/quantdesk --home $(HOME_DIR) strategy add $$f --reason demo || exit 1; done
	$(BIN)/quantdesk --home $(HOME_DIR) strategy list
	$(BIN)/quantdesk --home $(HOME_DIR) backtest run --strategy ema_cross \
		--param fast=10 --param slow=50 --param trade_size=100 --param flat_at_stop=true \
		--instrument SYN01.SIM --instrument SYN02.SIM --instrument SYN03.SIM --label demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 -q

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/ingest.py --bars 1000000 --repeat 3
	$(BIN)/python bench/backtest.py --bars 1000000 --repeat 2
	$(BIN)/python bench/risk_gate.py --bars 1000000
	$(BIN)/python bench/signal_routing.py --signals 100000
	$(BIN)/python bench/signal_replay.py --bars 200000 --repeat 3

# Mutation check of the core logic (not part of `make test`: minutes per module).
# MODULE=src/quantdesk/domain/risk.py (or a target name) runs one; JOBS=2 tests two mutants at once.
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py $(MODULE) --jobs $(or $(JOBS),1)

clean:
	rm -rf $(VENV) .quantdesk .mutation mutants .pytest_cache .mypy_cache .ruff_cache .hypothesis
