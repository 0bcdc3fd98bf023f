# kaiban: `make run` starts the whole stack, `make test` runs every test.
# Both install what is missing first (scripts/install.sh is idempotent).
PY := .venv/bin/python

.PHONY: install lint run test demo worker bench bench-quick soak lock clean help

help:
	@echo "make run      install what is missing, start Temporal + simulators + worker + API"
	@echo "make test     install what is missing, run every test"
	@echo "make lint     ruff, ruff format --check, mypy, the import contracts (CI runs it before the tests)"
	@echo "make demo     (with make run up) submit the sample and generated applications"
	@echo "make worker   run one more worker against a running stack"
	@echo "make bench    kaiban side by side with the floor (BENCH_ARGS=--quick, or make bench-quick)"
	@echo "make soak     100 applications, 10 % portal 5xx, sessions expiring every 2 min (SOAK_ARGS=...)"
	@echo "make lock     re-resolve requirements.lock from pyproject.toml"

install:
	@bash scripts/install.sh

# Rules a machine checks: style, types, and which package may import which (pyproject.toml)
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

run: install
	$(PY) -m cli.devstack

test:
	@KAIBAN_INSTALL_FOR_TESTS=1 bash scripts/install.sh
	$(PY) -m pytest -q

demo: install
	$(PY) -m cli.demo

worker: install
	$(PY) -m cli.worker

# BENCHMARKS.md: prints a table, writes bench/results.json
bench: install
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: install
	$(PY) -m bench --quick $(BENCH_ARGS)

# BENCHMARKS.md "Soak run": exit code 0 only if every criterion holds; writes bench/soak.json
soak: install
	$(PY) -m bench.soak $(SOAK_ARGS)

lock:
	$(PY) -m pip install -q uv && .venv/bin/uv pip compile pyproject.toml --extra dev --generate-hashes -o requirements.lock

clean:
	rm -rf .venv data .pytest_cache
