# Two commands do all the set-up on a fresh machine:
#   make demo   - the main job end to end on the built-in synthetic faces
#   make test   - the whole test suite
# Both create .venv (Python 3.10-3.12) and install what they need into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
RUN    ?= runs/demo
EPOCHS ?= 15

.PHONY: venv demo test lint system-deps picamera2-test-deps clean mobile-venv mobile-web test-edge pi-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,edge,micro,dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Debian packages the firmware and live-view tests use (the cross compiler and headless Chromium).
system-deps:
	@if command -v arm-none-eabi-gcc >/dev/null && command -v chromium >/dev/null && command -v g++ >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-arm-none-eabi chromium g++ >/dev/null; \
	else echo "note: install gcc-arm-none-eabi, g++ and chromium (apt) to run every test; those tests skip without them"; fi

# The main job on the built-in synthetic faces: inspect the data, train the micro preset, quantize it
# to int8 (gated on accuracy), export TensorFlow Lite Micro sources, then run the edge loop headless
# on a generated video. Everything lands in $(RUN); re-running replaces it.
demo: venv
	$(BIN)/fer-edge data --contact-sheet $(RUN)-data.png
	$(BIN)/fer-edge train --runs-dir $(dir $(RUN)) --name $(notdir $(RUN)) --epochs $(EPOCHS) --force
	$(BIN)/fer-edge quantize $(RUN)
	$(BIN)/fer-edge export-firmware $(RUN) --out-dir $(RUN)/firmware --board all
	$(BIN)/fer-edge demo-video $(RUN)/demo.mp4 --frames 90 --fps 30
	$(BIN)/fer-edge run $(RUN) --source $(RUN)/demo.mp4 --headless --out $(RUN)/annotated.mp4 --jsonl $(RUN)/predictions.jsonl

# picamera2's own Python code from PyPI, for tests/test_edge_picam.py (its native parts, libcamera, pykms,
# python-prctl and the DMA heap, are the stand-ins in tests/fake_libcamera). Test-only: a Pi gets picamera2
# from apt. pidng builds a small C extension (gcc, which system-deps brings).
PICAMERA2_TEST_DEPS := picamera2==0.3.38 simplejpeg==1.9.0 piexif==1.1.3 videodev2==0.0.4 pidng==4.0.9 'pillow>=10'

picamera2-test-deps: venv
	$(BIN)/python -m pip install --quiet --no-deps $(PICAMERA2_TEST_DEPS)

# MediaPipe for fer-edge export-mobile and its tests, in its own venv: mediapipe pulls opencv-contrib-python,
# which clashes with the headless OpenCV of .venv, and only 0.10.x (NumPy 1) has working metadata writers.
MOBILE_VENV ?= .venv-mobile
MEDIAPIPE   ?= mediapipe==0.10.21
$(MOBILE_VENV)/.installed-mediapipe:
	test -x $(MOBILE_VENV)/bin/python || $(PYTHON) -m venv $(MOBILE_VENV)
	$(MOBILE_VENV)/bin/python -m pip install --quiet '$(MEDIAPIPE)'
	touch $@

mobile-venv: $(MOBILE_VENV)/.installed-mediapipe

# MediaPipe Tasks for web (npm, pinned in mobile_export/web/package-lock.json) for the browser check;
# without npm, or if the install fails, that one test skips.
mobile-web:
	@if [ -f mobile_export/web/node_modules/@mediapipe/tasks-vision/vision_bundle.mjs ]; then :; \
	elif command -v npm >/dev/null; then npm ci --prefix mobile_export/web --no-audit --no-fund --loglevel=error \
		|| echo "note: npm ci failed; the browser check of export-mobile will skip"; \
	else echo "note: install npm to run the browser check of export-mobile; it skips without it"; fi

test: venv system-deps picamera2-test-deps mobile-venv mobile-web test-edge lint
	$(BIN)/python -m pytest -q

# pyflakes, import order, pyupgrade and bugbear over the whole tree ([tool.ruff] in pyproject.toml)
lint: venv
	$(BIN)/python -m ruff check .

# The suite in what a Raspberry Pi installs ('.[edge,dev]', no TensorFlow) in its own .venv-edge: the
# edge tests run, tests needing another extra skip (tests/conftest.py, @pytest.mark.requires).
EDGE_VENV  ?= .venv-edge
EDGE_STAMP := $(EDGE_VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
$(EDGE_STAMP): pyproject.toml
	test -x $(EDGE_VENV)/bin/python || $(PYTHON) -m venv $(EDGE_VENV)
	$(EDGE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EDGE_VENV)/bin/python -m pip install --quiet -e '.[edge,dev]'
	rm -f $(EDGE_VENV)/.installed-* && touch $@

test-edge: $(EDGE_STAMP) system-deps
	$(EDGE_VENV)/bin/python -m pip install --quiet --no-deps $(PICAMERA2_TEST_DEPS)
	! $(EDGE_VENV)/bin/python -c 'import tensorflow' 2>/dev/null  # the point is an environment without it
	FER_EDGE_TEST_ENV=edge $(EDGE_VENV)/bin/python -m pytest -q

# The Raspberry Pi guide on Debian bookworm arm64 under QEMU user mode, compared with this machine on
# identical frames, as a Pi 5 and a Pi 4 (tools/pi_check.py). Needs root and minutes; not in make test.
pi-check: venv
	@command -v mmdebstrap >/dev/null && command -v qemu-aarch64-static >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		  mmdebstrap qemu-user-static binfmt-support >/dev/null; } || true
	$(BIN)/python tools/pi_check.py $(PI_CHECK_ARGS)

clean:
	rm -rf $(VENV) $(EDGE_VENV) $(MOBILE_VENV) mobile_export/web/node_modules runs .pytest_cache
