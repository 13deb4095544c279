"""What the training benchmarks share: the aligned training set and the timed train-step loop."""

import time


def load_training_set(data=None):
    """The aligned tree at `data` (default `work/aligned/celeba`) as a `mobiface_tf.train.data.TrainingSet`."""
    from mobiface_tf import paths
    from mobiface_tf.data.sources import list_identity_tree
    from mobiface_tf.train import data as train_data

    data = data or paths.work_root() / "aligned" / "celeba"
    image_paths, labels, names = list_identity_tree(data)
    return data, train_data.TrainingSet(image_paths, labels, names, [str(data)])


def seconds_per_step(state, iterator, steps, untimed=2):
    """Run `untimed` steps (tracing), then return the mean wall time of `steps` train steps."""
    for _ in range(untimed):
        float(state.train_step(iterator)["loss"])
    start = time.perf_counter()
    for _ in range(steps):
        float(state.train_step(iterator)["loss"])
    return (time.perf_counter() - start) / steps
