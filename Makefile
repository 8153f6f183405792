# The two commands: `make demo` (live biofeedback on the virtual wearable) and `make test`.
# Each creates its own virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo live screenshots test bench clean micropython-btstack

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

# A coached protocol on the virtual wearable: make live PROTOCOL=single_leg_bridges
PROTOCOL ?= bridges
live: $(VENV)/.installed
	$(VENV)/bin/glutescope live --protocol $(PROTOCOL)

# The live view and each protocol's results screen, offscreen, into docs/img/
screenshots: $(VENV)/.installed
	QT_QPA_PLATFORM=offscreen $(PY) docs/screenshots.py

test: $(VENV)/.installed-test
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build

# The MicroPython unix port with btstack over an H4 UART that the real-MicroPython test
# layer (tests/realstack) runs the firmware on, built from source at the pinned commits
# (MicroPython v1.29.0-preview and its lib/btstack). Needs git, a C compiler and make,
# and the network to clone; the tests find it in build/micropython-btstack/ (or use
# GLUTESCOPE_MICROPYTHON, or ../shared/tools/micropython-btstack/micropython).
MPY_REPO ?= https://github.com/micropython/micropython.git
MPY_COMMIT ?= 1c3c201149f3
BTSTACK_COMMIT ?= 77e752abd6a0
MPY_OUT := build/micropython-btstack
MPY_SRC := $(MPY_OUT)/src
MPY_FLAGS := VARIANT=standard MICROPY_PY_BLUETOOTH=1 MICROPY_BLUETOOTH_BTSTACK=1 \
	MICROPY_BLUETOOTH_BTSTACK_H4=1 MICROPY_BLUETOOTH_BTSTACK_USB=0 MICROPY_PY_BTREE=0 \
	MICROPY_PY_SSL=0 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0 MICROPY_PY_FFI=0 \
	FROZEN_MANIFEST=$(CURDIR)/tests/realstack/micropython-btstack/manifest.py STRIP=true

micropython-btstack: $(MPY_OUT)/micropython

$(MPY_OUT)/micropython:
	@for tool in git make cc; do command -v $$tool >/dev/null || { echo "micropython-btstack needs $$tool"; exit 1; }; done
	rm -rf $(MPY_SRC)
	git clone --quiet $(MPY_REPO) $(MPY_SRC)
	git -C $(MPY_SRC) checkout --quiet $(MPY_COMMIT)
	$(MAKE) -C $(MPY_SRC)/ports/unix $(MPY_FLAGS) submodules
	git -C $(MPY_SRC) submodule update --init --quiet lib/btstack
	git -C $(MPY_SRC)/lib/btstack checkout --quiet $(BTSTACK_COMMIT)
	cp tests/realstack/micropython-btstack/mpbthciport.h $(MPY_SRC)/ports/unix/mpbthciport.h
	$(MAKE) -C $(MPY_SRC)/mpy-cross
	$(MAKE) -C $(MPY_SRC)/ports/unix $(MPY_FLAGS)
	cp $(MPY_SRC)/ports/unix/build-standard/micropython $@
	@echo "built $@"
