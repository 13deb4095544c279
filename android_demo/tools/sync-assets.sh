#!/usr/bin/env bash
# Gathers the app's assets: the bundled model, the exported models with their metadata JSON, the
# face detector's three networks, a few raw photos and a few aligned sample crops. `make android-assets` writes them into app/src/main/assets/ for Gradle
# (git-ignored copies); `make apk` into its build folder. Both builds get the same assets.
#   ASSETS_DIR   where they go (default: android_demo/app/src/main/assets)
#   BUNDLED_DIR  the bundled model mobiface.tflite + mobiface.tflite.json (default: mobiface_tf/assets)
#   EXPORT_DIR   where `make export-tflite` wrote *.tflite + metadata (default: work/export; optional)
#   SAMPLES_DIR  an aligned tree <identity>/<file>.jpg to take verification samples from
#                (default: work/aligned/lfw; optional)
#   DETECTOR_DIR the detector's pnet/rnet/onet.tflite (default: mobiface_tf/assets/mtcnn)
#   PHOTOS_DIR   a photo tree <identity>/<file>.jpg (default: <data>/lfw/images; optional): two
#                photos of the first identity of tools/sample-identities.txt, one of the second
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
assets="${ASSETS_DIR:-$root/android_demo/app/src/main/assets}"
bundled_dir="${BUNDLED_DIR:-$root/mobiface_tf/assets}"
export_dir="${EXPORT_DIR:-${MOBIFACE_WORK:-$root/work}/export}"
samples_dir="${SAMPLES_DIR:-${MOBIFACE_WORK:-$root/work}/aligned/lfw}"
detector_dir="${DETECTOR_DIR:-$root/mobiface_tf/assets/mtcnn}"
photos_dir="${PHOTOS_DIR:-${MOBIFACE_DATA:-$root/../shared/data}/lfw/images}"

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

# The face detector: mtcnn 1.0's P-, R- and O-Net (see mobiface_tf/assets/mtcnn/README.md), in a
# folder of their own so the model catalog (top-level *.json + *.tflite) never lists them.
rm -rf "$assets/mtcnn"
mkdir -p "$assets/mtcnn"
for net in pnet rnet onet; do
  if [ ! -f "$detector_dir/$net.tflite" ]; then
    echo "android-assets: no detector network $detector_dir/$net.tflite: restore mobiface_tf/assets/mtcnn from git" >&2
    exit 1
  fi
  cp "$detector_dir/$net.tflite" "$assets/mtcnn/$net.tflite"
done
echo "android-assets: mtcnn/ pnet.tflite rnet.tflite onet.tflite ($(du -ck "$assets"/mtcnn/*.tflite | tail -1 | cut -f1) KiB)"

# Raw photos for the verification screen and the pipeline benchmark: two of one person, one of
# another (the identities of tools/sample-identities.txt), as they are: the app detects the faces.
rm -rf "$assets/photos"
mapfile -t identities < <(grep -v '^[[:space:]]*\(#\|$\)' "$root/android_demo/tools/sample-identities.txt")
if [ -d "$photos_dir" ] && [ "${#identities[@]}" -ge 2 ] \
    && [ -d "$photos_dir/${identities[0]}" ] && [ -d "$photos_dir/${identities[1]}" ]; then
  mkdir -p "$assets/photos"
  find "$photos_dir/${identities[0]}" -maxdepth 1 -name '*.jpg' | sort | head -n 2 | xargs -I{} cp {} "$assets/photos/"
  find "$photos_dir/${identities[1]}" -maxdepth 1 -name '*.jpg' | sort | head -n 1 | xargs -I{} cp {} "$assets/photos/"
  echo "android-assets: photos/ $(ls "$assets/photos" | tr '\n' ' ')"
else
  echo "android-assets: no photos of ${identities[*]:-the sample identities} under $photos_dir: the verification screen offers the gallery and camera only"
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
