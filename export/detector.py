"""The `mtcnn` package's P-, R- and O-Net -> the `.tflite` files `mobiface_tf/data/detect_lite.py` runs.

`python -m mobiface_tf.export.detector --out_dir=mobiface_tf/assets/mtcnn` (what `make detector-tflite`
runs) rebuilds the three networks exactly as mtcnn builds them (its own Keras classes, its own
weights from its wheel), wraps each in a functional model with the input shape LiteRT should
see, and converts it to float32 `.tflite` without any optimization, so the numbers are mtcnn's.
Needs TensorFlow and mtcnn; the runtime that reads the files needs neither.
"""

import json
from pathlib import Path

from absl import flags

# name -> (mtcnn network module, class, weights file, input shape (batch, H, W, C), outputs in
# mtcnn's order). P-Net is fully convolutional: its height and width stay free (-1 in the
# .tflite), set per pyramid level at run time. R- and O-Net take a batch of fixed-size crops.
NETWORKS = {
    "pnet": ("mtcnn.network.pnet", "PNet", "pnet.lz4", (1, None, None, 3), ("box_regression", "face_probability")),
    "rnet": ("mtcnn.network.rnet", "RNet", "rnet.lz4", (None, 24, 24, 3), ("box_regression", "face_probability")),
    "onet": ("mtcnn.network.onet", "ONet", "onet.lz4", (None, 48, 48, 3),
             ("box_regression", "landmarks", "face_probability")),
}
PROVENANCE_FILE = "provenance.json"


def mtcnn_network(name):
    """mtcnn's own Keras network `name` ("pnet", "rnet", "onet") with the weights from its wheel."""
    import importlib

    from mtcnn.utils.tensorflow import load_weights

    module, class_name, weights, _, _ = NETWORKS[name]
    network = getattr(importlib.import_module(module), class_name)()
    network.build()
    network.set_weights(load_weights(weights))
    return network


def convert_network(name):
    """The `.tflite` bytes of mtcnn's network `name`: float32, outputs in mtcnn's order."""
    import keras
    import tensorflow as tf

    network = mtcnn_network(name)
    batch, *shape = NETWORKS[name][3]
    inputs = keras.Input(tuple(shape), batch_size=batch, name="image")
    outputs = network(inputs)
    names = NETWORKS[name][4]
    wrapped = keras.Model(inputs, {out: tensor for out, tensor in zip(names, outputs)}, name=name)
    converter = tf.lite.TFLiteConverter.from_keras_model(wrapped)
    return converter.convert()


def convert_all(out_dir):
    """Write pnet.tflite, rnet.tflite, onet.tflite and provenance.json into `out_dir`.

    Returns:
        dict: file name -> size in bytes.
    """
    import hashlib
    import importlib.metadata
    import importlib.resources

    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes, weights_sha256, tflite_sha256 = {}, {}, {}
    weights_dir = importlib.resources.files("mtcnn.assets.weights")
    for name in NETWORKS:
        path = out_dir / f"{name}.tflite"
        path.write_bytes(convert_network(name))
        sizes[path.name] = path.stat().st_size
        tflite_sha256[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        weights = NETWORKS[name][2]
        weights_sha256[weights] = hashlib.sha256((weights_dir / weights).read_bytes()).hexdigest()
    provenance = {
        "source": "mtcnn (PyPI), networks mtcnn/network/{pnet,rnet,onet}.py, weights mtcnn/assets/weights/*.lz4",
        "mtcnn_version": importlib.metadata.version("mtcnn"),
        "weights_sha256": weights_sha256,
        "licence": "MIT (Copyright (c) 2019-2024 Ivan de Paz Centeno)",
        "converted_with": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "command": "python -m mobiface_tf.export.detector --out_dir=mobiface_tf/assets/mtcnn",
        "outputs": {name: list(spec[4]) for name, spec in NETWORKS.items()},
        "tflite_sha256": tflite_sha256,
    }
    (out_dir / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    return sizes


FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", "mobiface_tf/assets/mtcnn", "Folder for pnet/rnet/onet.tflite and provenance.json.")


def main(argv):
    """Convert the three networks and print what was written."""
    from mobiface_tf.errors import BadInputError

    if len(argv) > 1:
        raise BadInputError(f"unexpected arguments {argv[1:]}")
    for name, size in convert_all(FLAGS.out_dir).items():
        print(f"{Path(FLAGS.out_dir) / name}: {size:,} bytes")
    return 0


def run():
    """Entry point (`python -m mobiface_tf.export.detector`)."""
    from mobiface_tf.cli.common import run_main

    run_main(main, preload_tensorflow=True)


if __name__ == "__main__":
    run()
