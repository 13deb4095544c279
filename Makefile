# MobiFace-TF tasks. `make demo` sets up and runs the main job; `make test` runs the tests.
# Paths are variables: `make train DATA=/path/to/data WORK=/path/to/outputs`.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DATA   ?= $(abspath ../shared/data)
WORK   ?= work
export MOBIFACE_DATA := $(DATA)
export MOBIFACE_WORK := $(abspath $(WORK))
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo profile test test-python test-java

# The virtual environment is rebuilt only when the package metadata changes.
install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The main job: everything a new user should see working on this machine's default data.
demo: install profile

profile: install
	$(BIN)/mobiface-profile

test: install test-java test-python

test-python: install
	$(BIN)/pytest -q

# Unit tests of the Android app's platform-free core (android_demo/core) with the plain JDK and
# Debian's junit4; ends with "java: N passed, N failed".
test-java:
	android_demo/tools/test-core.sh

.PHONY: align bench-align

# Aligned 112x112 crops for training (CelebA subset, detected with MTCNN) and evaluation (LFW,
# from its landmark file). Resumable: a rerun only does what is missing. Failures are listed in
# <output>/align_report.csv.
align: install
	$(BIN)/mobiface-align --input_dir=$(DATA)/celeba_subset/images --output_dir=$(MOBIFACE_WORK)/aligned/celeba
	$(BIN)/mobiface-align --input_dir=$(DATA)/lfw/images --output_dir=$(MOBIFACE_WORK)/aligned/lfw \
		--landmarks=$(DATA)/lfw/landmarks_5pt.txt

# Alignment throughput and MTCNN-vs-landmark-file agreement on LFW (prints figures).
bench-align: install
	$(PY) tests/benchmarks/bench_align.py

# tf.data throughput (aligned tree, .rec, TFRecord of the same LFW faces) beside MobiFace's
# training-step rate; builds its inputs once under $(MOBIFACE_WORK)/bench_pipeline.
.PHONY: bench-pipeline
bench-pipeline: install
	$(PY) tests/benchmarks/bench_pipeline.py

.PHONY: apk android-assets android-bench

# Android benchmark app (android_demo/README.md). `make apk` needs the Android SDK and Google's
# Maven and says so in one line where they are missing; android-bench needs adb and a phone.
ANDROID_EXPORT    ?= $(MOBIFACE_WORK)/export
ANDROID_SAMPLES   ?= $(MOBIFACE_WORK)/aligned/lfw
ANDROID_MODEL     ?= mobiface
ANDROID_PRECISION ?=
ANDROID_DELEGATE  ?= cpu
ANDROID_THREADS   ?= 1
ANDROID_RUNS      ?= 200
ANDROID_WARMUP    ?= 20

android-assets:
	EXPORT_DIR=$(ANDROID_EXPORT) SAMPLES_DIR=$(ANDROID_SAMPLES) android_demo/tools/sync-assets.sh

apk:
	@android_demo/tools/build-apk.sh check
	$(MAKE) --no-print-directory android-assets
	android_demo/tools/build-apk.sh build

android-bench:
	MODEL=$(ANDROID_MODEL) PRECISION=$(ANDROID_PRECISION) DELEGATE=$(ANDROID_DELEGATE) \
	THREADS=$(ANDROID_THREADS) RUNS=$(ANDROID_RUNS) WARMUP=$(ANDROID_WARMUP) \
	OUT_DIR=$(MOBIFACE_WORK)/android android_demo/tools/android-bench.sh

.PHONY: export-tflite bench

# A trained run -> .tflite at four precisions (+ metadata JSON, + parity.json checked against
# the Keras model on LFW). `make export-tflite RUN=work/runs/flip` exports another run.
RUN             ?= $(MOBIFACE_WORK)/runs/default
EXPORT_OUT      ?= $(MOBIFACE_WORK)/export/$(notdir $(RUN))
PRECISIONS      ?= float32,float16,dynamic_int8,int8
CALIBRATION_DIR ?= $(MOBIFACE_WORK)/aligned/celeba
export-tflite: install
	$(BIN)/mobiface-export --run_dir=$(RUN) --out_dir=$(EXPORT_OUT) --precisions=$(PRECISIONS) \
		--calibration_dir=$(CALIBRATION_DIR) --num_calibration=300 --lfw_dir=$(DATA)/lfw

# LiteRT latency of every registered model at each precision, 1 and 2 threads, interleaved
# (prints a Markdown table; JSON and Markdown in $(MOBIFACE_WORK)/bench).
bench: install
	$(BIN)/mobiface-bench --bench_dir=$(MOBIFACE_WORK)/bench --bench_calibration_dir=$(CALIBRATION_DIR)
