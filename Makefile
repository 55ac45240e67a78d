# make run   - set up .venv (Python 3.10, locked stack) and run the default penguin pipeline
# make test  - same set-up plus the security scanners (.venv-scan: checkov, hadolint), then the
#              test suite (the 25 slowest tests printed at the end)
# The venv is rebuilt only when requirements.lock or pyproject.toml change.

VENV := .venv
UV_VERSION := 0.13.9
CONFIG ?= configs/penguin.yaml
# Python 3.10: pyenv's shim picks 3.10.13 from .python-version; override with PYTHON=...
PYTHON ?= python3.10

STAMP := $(VENV)/.installed-stamp
# checkov and hadolint, for tests/test_deploy_security.py: their own venv (they clash with the lock).
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed-stamp

.PHONY: run test install scanners lock lock-scan clean

run: $(STAMP)
	$(VENV)/bin/forge run $(CONFIG)

test: $(STAMP) $(SCAN_STAMP)
	$(VENV)/bin/python -m pytest --durations=25 $(PYTEST_ARGS)

install: $(STAMP)

scanners: $(SCAN_STAMP)

# --no-deps: the lock is complete, and overrides.txt replaces a pin of tfx's.
$(STAMP): requirements.lock pyproject.toml overrides.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null || { \
	  echo "error: tfx-forge needs Python 3.10 (TFX 1.16 has no wheels for newer Pythons)."; \
	  echo "  '$(PYTHON)' is missing or not 3.10. Install it (e.g. 'pyenv install 3.10.13')"; \
	  echo "  or point to one: make PYTHON=/path/to/python3.10 ..."; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --no-deps -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $@

# uv comes from .venv; the scanners never share its packages.
$(SCAN_STAMP): requirements-scan.lock | $(STAMP)
	rm -rf $(SCAN_VENV)
	$(PYTHON) -m venv $(SCAN_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(SCAN_VENV)/bin/python --no-deps -r requirements-scan.lock
	touch $@

# Re-resolve the stack after editing pyproject.toml's dependencies.
lock:
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.10 \
	  --override overrides.txt --no-header -o requirements.lock

lock-scan:
	$(VENV)/bin/uv pip compile requirements-scan.in --python-version 3.10 --no-header \
	  -o requirements-scan.lock

clean:
	rm -rf build
