# Two commands do all set-up on a fresh machine: `make run` starts the app on the offline demo
# lineage, `make test` runs every test. Both create .venv and install pinned dependencies first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test run bench demo clean

$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

run: $(STAMP)
	$(PY) -m interp demo build
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port 8501

bench: $(STAMP)
	$(PY) -m interp bench

demo: $(STAMP)
	$(PY) -m interp demo build

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
