# `make demo`: set everything up and open napari with the sample image and our widget.
# `make test`: set everything up and run the whole suite headless (Xvfb).
# `make check-base`: a fresh venv in /tmp with only `pip install .` imports the package and its samples.
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned so pip takes the CPU wheel that lies on this machine's disk instead of a
# multi-GB CUDA build; the package itself accepts any torch >= 2.2.
TORCH ?= torch==2.13.0

.PHONY: demo test docs install clean xvfb check-base

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,bench,bmz]" "$(TORCH)"
	touch $@

install: $(VENV)/.installed

xvfb:
	@command -v xvfb-run >/dev/null && dpkg -s libxcb-icccm4 libxcb-keysyms1 >/dev/null 2>&1 || { \
	  echo "installing xvfb and Qt's xcb libraries (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth \
	    libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 \
	    libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 libgl1 libegl1 libdbus-1-3 >/dev/null; }

test: $(VENV)/.installed xvfb
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m pytest -q

check-base:
	TORCH="$(TORCH)" bash scripts/check_base_install.sh /tmp/napari-blindspot-base

demo: $(VENV)/.installed
	$(VENV)/bin/python -m napari_blindspot.demo

docs: $(VENV)/.installed  # the documentation site, in site/ (also checked by tests/test_docs.py)
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info
