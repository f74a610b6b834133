# The README's two set-up commands: `make demo` and `make test`.
# Every virtualenv is made here from the interpreters scripts/pythons.sh finds.

PYTHONS := $(shell sh scripts/pythons.sh)
NEWEST  := $(firstword $(PYTHONS))
VENV    := .venv
STAMP   := .installed

ifeq ($(NEWEST),)
$(error No supported Python (3.13, 3.12 or 3.11) found: install one, e.g. with pyenv)
endif

.PHONY: demo test venv bench clean

# venv-X.Y/.installed: one virtualenv per interpreter, reinstalled when pyproject.toml changes.
define venv_rule
.venv-$(1)/$(STAMP): pyproject.toml setup.py src/cinescope/capture/_hot.c src/cinescope/capture/_values.c src/cinescope/store/_chunks.c
	rm -rf .venv-$(1)
	$(2) -m venv .venv-$(1)
	.venv-$(1)/bin/python -m pip install -q --upgrade pip
	.venv-$(1)/bin/python -m pip install -q -e '.[test]'
	touch $$@
endef
version_of = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
$(foreach py,$(PYTHONS),$(eval $(call venv_rule,$(call version_of,$(py)),$(py))))
VERSIONS := $(foreach py,$(PYTHONS),$(call version_of,$(py)))
NEWEST_V := $(firstword $(VERSIONS))

venv: .venv-$(NEWEST_V)/$(STAMP)
	ln -sfn .venv-$(NEWEST_V) $(VENV)

demo: venv
	sh scripts/demo.sh $(VENV)/bin

# The DAP end-to-end tests' client (tests/dap/package-lock.json), from npm.
DAP_CLIENT := tests/dap/node_modules/.package-lock.json
$(DAP_CLIENT): tests/dap/package-lock.json
	npm ci --prefix tests/dap --no-audit --no-fund --loglevel=error
	touch $@

test: $(foreach v,$(VERSIONS),.venv-$(v)/$(STAMP)) $(DAP_CLIENT)
	@status=0; for v in $(VERSIONS); do \
	  echo "=== Python $$v"; \
	  .venv-$$v/bin/python -m pytest -q $(PYTEST_ARGS) || status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "FAILED on at least one Python"; fi; exit $$status

# Overhead side by side with cProfile, VizTracer and py-tt-debug (installed into
# each virtualenv from benchmarks/requirements.txt), on every Python found.
bench: $(foreach v,$(VERSIONS),.venv-$(v)/$(STAMP))
	@for v in $(VERSIONS); do \
	  .venv-$$v/bin/python -m pip install -q -r benchmarks/requirements.txt || true; \
	  .venv-$$v/bin/python benchmarks/overhead.py $(BENCH_ARGS); \
	done

clean:
	rm -rf .venv .venv-3.* build src/*.egg-info examples/bank/.cinescope/recordings.db* \
	  tests/dap/node_modules
