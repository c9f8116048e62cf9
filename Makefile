# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run chat test lint setup system-deps bench clean

run: setup  ## the bot: Telegram when CRM_BOT_TOKEN is set, else the terminal chat (SQLite in ./data)
	$(BIN)/crm-bot run

chat: setup
	$(BIN)/crm-bot chat

test: setup  ## lint, type-check, then every test (SQLite, and PostgreSQL when reachable)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy flows storage bot
	$(BIN)/lint-imports
	$(BIN)/pytest -n 4  # four workers: the end-to-end tests mostly wait (on the stand-in, the rate limits)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy flows storage bot && $(BIN)/lint-imports

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b; done

setup: $(VENV)/.installed system-deps

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# Tesseract (business-card OCR) and a CJK font (the OCR tests draw their own cards) come from Debian.
system-deps:
	@if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -q chi_sim \
	   || ! ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng fonts-noto-cjk >/dev/null; \
	  else \
	    echo "Please install: tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng fonts-noto-cjk"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
