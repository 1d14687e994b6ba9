# Two commands do all set-up on a fresh machine: `make run` starts the app on the offline demo
# lineage, `make test` runs every test. Both create .venv and install pinned dependencies first,
# then the project itself (editable), so that `import interp` works in any folder.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test run bench demo clean

$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

run: $(STAMP)
	$(PY) -m interp demo build
	$(PY) -m interp demo run
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port 8501

bench: $(STAMP)
	$(PY) -m interp bench

demo: $(STAMP)
	$(PY) -m interp demo build
	$(PY) -m interp demo run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
