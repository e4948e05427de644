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

# The demo: a synthetic market (1- and 5-minute bars, an options chain on SYN01), the signals
# the examples subscribe to (built-in producers), every example registered, then the registered strategies of several
# families backtested in ONE portfolio by reference, then a small grid study of the trend
# strategy on two worker processes. Run again on the same home: nothing repeats.
DEMO      = $(BIN)/quantdesk --home $(HOME_DIR)
DEMO_OUT  = $(HOME_DIR)/signals/produced
DEMO_REFS = trend-syn01 reversion-syn02 breakout-syn03 rotation-syn pair-syn01-syn02 \
            regime-syn01 sentiment-syn01 twap-syn02 straddle-syn01

demo: $(STAMP)
	$(DEMO) data synth --instruments 3 --days 10 --seed 7 --bar-spec 5-MINUTE-LAST \
		--options-on SYN01.SIM --option-expiries 2,3 --option-strikes 3
	$(DEMO) data list
	$(DEMO) signals produce regime --instrument SYN01.SIM --out $(DEMO_OUT)/regime-SYN01.jsonl
	$(DEMO) signals produce sentiment --instrument SYN01.SIM \
		--headlines examples/signals/headlines.csv --out $(DEMO_OUT)/sentiment-SYN01.jsonl
	$(DEMO) signals produce correlation --instrument SYN01.SIM --other SYN02.SIM \
		--out $(DEMO_OUT)/correlation-SYN01-SYN02.jsonl
	$(DEMO) signals produce volatility --instrument SYN03.SIM --out $(DEMO_OUT)/volatility-SYN03.jsonl
	cat $(DEMO_OUT)/regime-SYN01.jsonl $(DEMO_OUT)/sentiment-SYN01.jsonl \
		$(DEMO_OUT)/correlation-SYN01-SYN02.jsonl $(DEMO_OUT)/volatility-SYN03.jsonl \
		> $(DEMO_OUT)/demo.jsonl
	$(DEMO) signals ingest $(DEMO_OUT)/demo.jsonl
	for f in examples/strategies/*.yaml; do \
		$(DEMO) strategy add $$f --reason demo || exit 1; done
	$(DEMO) strategy list
	$(DEMO) backtest run $(addprefix --strategy ,$(DEMO_REFS)) --signals all --label demo \
		--json > $(HOME_DIR)/demo-run.json
	run=$$($(BIN)/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["run_id"])' \
		$(HOME_DIR)/demo-run.json) && $(DEMO) runs show $$run && \
		echo "report: $(HOME_DIR)/runs/$$run/report.html"
	$(DEMO) optimize trend-syn01@1 --space examples/optimisation/trend_grid.yaml --sampler grid \
		--trials 12 --workers 2 --top 2 --study demo-trend-grid

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 --dist worksteal -q --durations=30

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/ingest.py --bars 1000000 --repeat 3
	$(BIN)/python bench/ingest_memory.py --rows 10000000
	$(BIN)/python bench/backtest.py --bars 1000000 --repeat 2
	$(BIN)/python bench/tick_backtest.py --ticks 2000000 --repeat 2
	$(BIN)/python bench/tick_ingest.py --ticks 1000000
	$(BIN)/python bench/risk_gate.py --bars 1000000
	$(BIN)/python bench/signal_routing.py --signals 100000
	$(BIN)/python bench/signal_replay.py --bars 200000 --repeat 3
	$(BIN)/python bench/families.py --bars 1000000
	$(BIN)/python bench/multi_asset.py --days 30
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/service.py --clients 50
	$(BIN)/python bench/migration.py --rows 2000000 --rss-rows 10000000  # skipped without PostgreSQL
	$(BIN)/python bench/tick_migration.py --ticks 1000000  # skipped without PostgreSQL
	$(BIN)/python bench/catalog_size.py  # skipped without PostgreSQL

# Mutation check of the core logic (not part of `make test`: minutes per module).
# MODULE=src/quantdesk/domain/risk.py (or a target name) runs one; JOBS=2 tests two mutants at once.
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py $(MODULE) --jobs $(or $(JOBS),1)

clean:
	rm -rf $(VENV) .quantdesk .mutation mutants .pytest_cache .mypy_cache .ruff_cache .hypothesis
