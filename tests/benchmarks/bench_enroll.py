"""Enroll-then-identify on raw CelebA photos, the way a user of `mobiface enroll` works.

Not a pytest test; prints one Markdown table. Run from the project root:

    .venv/bin/python tests/benchmarks/bench_enroll.py [--model PATH] [--identities 30] [--enroll 5]

Protocol: the first `--identities` identity folders of `<data>/celeba_subset/images` (sorted);
in each, the first photo (sorted) is the probe and the next `--enroll` are enrolled. Photos go
through MTCNN and alignment (`FaceEmbedder.embed_files`, largest face); photos without a face
are skipped and counted. Each probe is ranked against the identity templates (mean embedding,
`Gallery.search`). `--model` defaults to the bundled model.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run folder, .keras or .tflite (default: bundled)")
    parser.add_argument("--data", default=None, help="celeba_subset folder (default: <data>/celeba_subset)")
    parser.add_argument("--identities", type=int, default=30)
    parser.add_argument("--enroll", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from mobiface_tf import paths
    from mobiface_tf.gallery import Gallery
    from mobiface_tf.inference import FaceEmbedder

    root = os.path.join(args.data or os.path.join(paths.data_root(), "celeba_subset"), "images")
    if not os.path.isdir(root):
        sys.exit(f"{root}: no CelebA images folder (set MOBIFACE_DATA or --data)")
    names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))[: args.identities]
    probes, enrolled, owner = [], [], []
    for name in names:
        files = sorted(os.listdir(os.path.join(root, name)))
        probes.append(os.path.join(root, name, files[0]))
        for f in files[1 : 1 + args.enroll]:
            enrolled.append(os.path.join(root, name, f))
            owner.append(name)

    embedder = FaceEmbedder(model=args.model)
    gallery = Gallery(embedder)
    start = time.perf_counter()
    result, skipped = embedder.embed_files(enrolled)
    rows = np.unique(result.image_index, return_index=True)[1]  # one face per photo
    for name in names:
        mine = [r for r in rows if owner[result.image_index[r]] == name]
        if mine:
            gallery.enroll_embeddings(name, result.embeddings[mine])
    enroll_seconds = time.perf_counter() - start

    probe_result, probe_skipped = embedder.embed_files(probes)
    probe_rows = np.unique(probe_result.image_index, return_index=True)[1]
    labels, _ = gallery.search(probe_result.embeddings[probe_rows], top_k=1)
    truth = [names[i] for i in probe_result.image_index[probe_rows]]
    hits = sum(gallery.names[label] == name for label, name in zip(labels[:, 0], truth))

    print(f"model: {(embedder.metadata.get('source') or {}).get('run') or args.model or 'bundled'}; data: {root}")
    print("| identities | photos enrolled (with a face) | enroll time | probes (with a face) | rank-1 |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(gallery.names)} | {len(enrolled)} ({len(rows)}) | {enroll_seconds:.1f} s | "
          f"{len(probes)} ({len(probe_rows)}) | {hits}/{len(probe_rows)} = {100 * hits / max(len(probe_rows), 1):.0f}% |")
    for _, error in list(skipped) + list(probe_skipped):
        print(f"skipped: {error}")


if __name__ == "__main__":
    main()
