#!/usr/bin/env bash
# Gathers the app's assets: the bundled model, the exported models with their metadata JSON, and a
# few aligned sample crops. `make android-assets` writes them into app/src/main/assets/ for Gradle
# (git-ignored copies); `make apk` into its build folder. Both builds get the same assets.
#   ASSETS_DIR   where they go (default: android_demo/app/src/main/assets)
#   BUNDLED_DIR  the bundled model mobiface.tflite + mobiface.tflite.json (default: mobiface_tf/assets)
#   EXPORT_DIR   where `make export-tflite` wrote *.tflite + metadata (default: work/export; optional)
#   SAMPLES_DIR  an aligned tree <identity>/<file>.jpg to take verification samples from
#                (default: work/aligned/lfw; optional)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
assets="${ASSETS_DIR:-$root/android_demo/app/src/main/assets}"
bundled_dir="${BUNDLED_DIR:-$root/mobiface_tf/assets}"
export_dir="${EXPORT_DIR:-${MOBIFACE_WORK:-$root/work}/export}"
samples_dir="${SAMPLES_DIR:-${MOBIFACE_WORK:-$root/work}/aligned/lfw}"

if [ ! -f "$bundled_dir/mobiface.tflite" ] || [ ! -f "$bundled_dir/mobiface.tflite.json" ]; then
  echo "android-assets: no bundled model $bundled_dir/mobiface.tflite (+ .json): run \`make bundle\` or restore it from git" >&2
  exit 1
fi
mkdir -p "$assets"
# Only generated files live at the top of assets/: start clean so a removed export disappears.
find "$assets" -maxdepth 1 -type f \( -name '*.tflite' -o -name '*.json' \) -delete

# The bundled model as mobiface.tflite + mobiface.json. Exports sort before it (their names start
# with the run folder), so for the same model and precision the app prefers a fresh export; the
# bundled one stays reachable by its file name (--es model mobiface.tflite).
cp "$bundled_dir/mobiface.tflite" "$assets/mobiface.tflite"
cp "$bundled_dir/mobiface.tflite.json" "$assets/mobiface.json"
echo "android-assets: mobiface.tflite + mobiface.json (bundled, $(du -k "$bundled_dir/mobiface.tflite" | cut -f1) KiB)"
copied=1

if [ -d "$export_dir" ]; then
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
else
  echo "android-assets: no exports under $export_dir (\`make export-tflite\` adds them): the bundled model only"
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
