#!/usr/bin/env bash
# Copies the exported models and their metadata JSON (and a few aligned sample crops) into the
# app's assets (`make android-assets`). Assets copied here are generated files, git-ignored.
#   EXPORT_DIR   where `make export-tflite` wrote *.tflite + metadata (default: work/export)
#   SAMPLES_DIR  an aligned tree <identity>/<file>.jpg to take verification samples from
#                (default: work/aligned/lfw; optional)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export_dir="${EXPORT_DIR:-${MOBIFACE_WORK:-$root/work}/export}"
samples_dir="${SAMPLES_DIR:-${MOBIFACE_WORK:-$root/work}/aligned/lfw}"
assets="$root/android_demo/app/src/main/assets"

if [ ! -d "$export_dir" ]; then
  echo "android-assets: $export_dir does not exist: run \`make export-tflite\` first (or set EXPORT_DIR)" >&2
  exit 1
fi
mkdir -p "$assets"
# Only generated files live at the top of assets/: start clean so a removed export disappears.
find "$assets" -maxdepth 1 -type f \( -name '*.tflite' -o -name '*.json' \) -delete

copied=0
while IFS= read -r -d '' model; do
  rel="${model#"$export_dir"/}"
  if [ -f "${model%.tflite}.json" ]; then
    meta="${model%.tflite}.json"
  elif [ -f "$model.json" ]; then
    meta="$model.json"
  else
    echo "android-assets: skipping $model: no metadata ${model%.tflite}.json or $model.json beside it" >&2
    continue
  fi
  # Subfolders of the export become part of the asset name, so same-named files cannot collide.
  name="$(echo "${rel%.tflite}" | tr '/' '_')"
  cp "$model" "$assets/$name.tflite"
  cp "$meta" "$assets/$name.json"
  echo "android-assets: $name.tflite + $name.json ($(du -k "$model" | cut -f1) KiB)"
  copied=$((copied + 1))
done < <(find "$export_dir" -name '*.tflite' -type f -print0 | sort -z)

if [ "$copied" -eq 0 ]; then
  echo "android-assets: no .tflite with metadata under $export_dir: run \`make export-tflite\` first" >&2
  exit 1
fi

# Verification samples: two crops of one person and one of another, when an aligned tree exists.
rm -rf "$assets/samples"
if [ -d "$samples_dir" ]; then
  first=""
  other=""
  while IFS= read -r dir; do
    count=$(find "$dir" -maxdepth 1 -name '*.jpg' | wc -l)
    if [ -z "$first" ] && [ "$count" -ge 2 ]; then
      first="$dir"
    elif [ -n "$first" ] && [ "$count" -ge 1 ]; then
      other="$dir"
      break
    fi
  done < <(find "$samples_dir" -mindepth 1 -maxdepth 1 -type d | sort)
  if [ -n "$first" ] && [ -n "$other" ]; then
    mkdir -p "$assets/samples"
    find "$first" -maxdepth 1 -name '*.jpg' | sort | head -n 2 | xargs -I{} cp {} "$assets/samples/"
    find "$other" -maxdepth 1 -name '*.jpg' | sort | head -n 1 | xargs -I{} cp {} "$assets/samples/"
    echo "android-assets: samples/ $(ls "$assets/samples" | tr '\n' ' ')"
  fi
fi
if [ ! -d "$assets/samples" ]; then
  echo "android-assets: no aligned crops under $samples_dir: the verification screen offers the gallery only"
fi
echo "android-assets: $copied model(s) in $assets"
