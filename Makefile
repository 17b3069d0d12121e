# Framecraft: `make run` starts the studio, `make test` runs every test.
# Both install what they need into .venv first (only again when pyproject.toml changes).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build is enough to try the studio; GPU workers install the CUDA build (docker/).
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test check install install-test browser clean

run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) -m webapp.launcher

test: $(VENV)/.installed-test browser
	$(PY) -m pytest $(PYTEST_ARGS)

check: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=check-only-$$(date +%s)-not-a-real-key-0123456789abcdefghij \
		DJANGO_ALLOWED_HOSTS=studio.example.com $(PY) manage.py check --deploy --fail-level WARNING

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, so that nothing that depends on it pulls another build.
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[worker]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[worker,test]"
	touch $@

# Browser tests drive Debian's Chromium through Playwright; no browser is downloaded.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) var staticfiles
