# Every target that needs the environment creates it first, so a fresh clone with nothing but
# Python 3.11 runs `make demo` and `make test` as they are.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
ENV_STAMP := $(VENV)/.synced

export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export HF_DATASETS_OFFLINE := 1
export HF_HUB_OFFLINE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: env demo test test-slow test-labelstudio test-ui chromium lint bench ui clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Byte-compiling at install keeps jieba's source from warning under `-W error`.
$(ENV_STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --extra fast --extra dask --compile-bytecode --quiet
	touch $@

env: $(ENV_STAMP)

demo: $(ENV_STAMP)
	$(BIN)/cppcc-themes train experiments/baseline.toml
	$(BIN)/cppcc-themes tag labels/reports/seed-001.txt

test: $(ENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: $(ENV_STAMP) chromium
	$(BIN)/python -m pytest -q -m slow

# Installs label-studio into a throwaway environment and runs it on 127.0.0.1 (~5-15 min).
test-labelstudio: $(ENV_STAMP)
	$(BIN)/python -m pytest -q -m slow tests/slow/test_labelstudio.py

# The MLflow UI in headless Chromium (Debian's, driven by playwright: no browser download) and
# its signals; refreshes docs/mlflow-runs.png.
test-ui: $(ENV_STAMP) chromium
	CPPCC_THEMES_UI_SCREENSHOT=$(CURDIR)/docs/mlflow-runs.png \
		$(BIN)/python -m pytest -q -m slow tests/code/test_ui.py

chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

lint: $(ENV_STAMP)
	$(BIN)/ruff check .

bench: $(ENV_STAMP)
	$(BIN)/python -m benchmarks

ui: $(ENV_STAMP)
	$(BIN)/cppcc-themes ui

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
