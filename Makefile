# The two commands: `make demo` (live biofeedback on the virtual wearable) and `make test`.
# Each creates its own virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

UPY_RUNNER := tests/firmware/upy

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(UPY_RUNNER)/package-lock.json
	$(PY) -m pip install --quiet -e '.[test]'
	# MicroPython's own type stubs, kept apart from the venv (they shadow the stdlib)
	$(PY) -m pip install --quiet --upgrade --target build/upy-stubs \
		micropython-rp2-rpi-pico2-w-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
	@command -v node >/dev/null || { echo "make test needs node (Debian: apt-get install nodejs npm) to run the firmware under MicroPython"; exit 1; }
	npm ci --silent --no-audit --no-fund --prefix $(UPY_RUNNER)
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/glutescope demo

test: $(VENV)/.installed-test
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build
