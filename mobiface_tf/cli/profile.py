"""`mobiface-profile`: parameters, multiply-adds and float32 size of every registered model, beside the paper's Table 2."""

import json

from absl import flags

from mobiface_tf.cli.common import run_main

FLAGS = flags.FLAGS
flags.DEFINE_list("models", None, "Registered model names to profile (default: all).")
flags.DEFINE_bool("json", False, "Print a JSON list instead of the Markdown table.")
flags.DEFINE_bool("head_variants", True, "Also profile MobiFace with each embedding head (gdc, gap, fc).")


def profile_rows(names, head_variants):
    """One dict per profiled configuration: registry name, kwargs, our figures, the paper's size."""
    from mobiface_tf.models import blocks, registry
    from mobiface_tf.models.profile import PAPER_MODEL_SIZE_MB, profile_model

    configurations = []
    for name in names:
        configurations.append((name, {}))
        if name == "mobiface" and head_variants:
            configurations += [(name, {"head": head}) for head in blocks.HEADS if head != "gdc"]
    rows = []
    for name, kwargs in configurations:
        model = registry.build_model(name, **kwargs)
        rows.append(
            {
                "model": name,
                "head": blocks.head_of(model),
                "kwargs": kwargs,
                **profile_model(model),
                # The paper's sizes are for its default configuration only.
                "paper_mb": None if kwargs else PAPER_MODEL_SIZE_MB.get(name),
            }
        )
    return rows


def markdown_table(rows):
    """The rows as a Markdown table (MB = 10^6 bytes, all weights incl. BN statistics, unfolded)."""
    lines = [
        "| model | head | params | multiply-adds | float32 MB | paper (Table 2) MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        paper = "-" if row["paper_mb"] is None else f"{row['paper_mb']:.1f}"
        lines.append(
            f"| {row['model']} | {row['head']} | {row['params']:,} | {row['macs'] / 1e6:.1f} M "
            f"| {row['float32_mb']:.1f} | {paper} |"
        )
    return "\n".join(lines)


def main(argv):
    """Profile the chosen models and print the table."""
    from mobiface_tf.errors import BadInputError
    from mobiface_tf.models import registry

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}; use --models=name,name")
    names = FLAGS.models or registry.list_models()
    unknown = [name for name in names if name not in registry.MODELS]
    if unknown:
        raise BadInputError(f"--models: unknown {unknown}; known models: {', '.join(registry.MODELS)}")
    rows = profile_rows(names, FLAGS.head_variants)
    if FLAGS.json:
        print(json.dumps(rows, indent=2))
    else:
        print(markdown_table(rows))
        print()
        print("MB = 10^6 bytes of float32 weights, BatchNorm statistics included (not folded).")


def run():
    """Console-script entry point."""
    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
