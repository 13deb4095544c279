"""LiteRT helpers the export stage needs: interpreters, delegate partition counts, embedded metadata."""

import dataclasses
import json

import numpy as np

from mobiface_tf.quiet import native_stderr_silenced

# Name of the metadata entry written into the .tflite flatbuffer's `metadata` field.
METADATA_NAME = "mobiface_metadata"


def make_interpreter(model, num_threads=1):
    """A LiteRT `Interpreter` (XNNPACK applied by default) with tensors allocated.

    Args:
        model: path of a `.tflite` file, or its bytes.
        num_threads: CPU threads for the interpreter and its XNNPACK delegate.
    """
    from ai_edge_litert.interpreter import Interpreter

    if num_threads < 1:
        raise ValueError(f"`num_threads` must be >= 1. Received `num_threads={num_threads}`")
    if isinstance(model, (bytes, bytearray)):
        interpreter = Interpreter(model_content=bytes(model), num_threads=num_threads)
    else:
        interpreter = Interpreter(model_path=str(model), num_threads=num_threads)
    with native_stderr_silenced():  # LiteRT announces its XNNPACK delegate on fd 2
        interpreter.allocate_tensors()
    return interpreter


@dataclasses.dataclass(frozen=True)
class Delegation:
    """How LiteRT split a graph: `partitions` DELEGATE nodes, and the ops left outside them."""

    partitions: int
    undelegated_ops: tuple

    @property
    def fully_delegated(self):
        """True when the whole graph runs as one delegate partition and nothing else."""
        return self.partitions == 1 and not self.undelegated_ops


def delegation(interpreter):
    """Count the delegate partitions and the ops that run outside them in `interpreter`'s plan.

    LiteRT's node list keeps the original nodes and appends one DELEGATE node per partition,
    so the execution plan is recovered by walking back from the outputs: a tensor made by a
    DELEGATE node comes from it, any other from its original producer.
    """
    ops = interpreter._get_ops_details()
    producer = {}
    for op in ops:
        for tensor in op["outputs"]:
            # DELEGATE nodes come last and override the replaced original producer.
            if op["op_name"] == "DELEGATE" or tensor not in producer:
                producer[int(tensor)] = op
    needed = [int(detail["index"]) for detail in interpreter.get_output_details()]
    seen_tensors, plan = set(), {}
    while needed:
        tensor = needed.pop()
        if tensor < 0 or tensor in seen_tensors:
            continue
        seen_tensors.add(tensor)
        op = producer.get(tensor)
        if op is None or op["index"] in plan:
            continue
        plan[op["index"]] = op
        needed.extend(int(t) for t in op["inputs"])
    names = [op["op_name"] for _, op in sorted(plan.items())]
    return Delegation(
        partitions=sum(name == "DELEGATE" for name in names),
        undelegated_ops=tuple(name for name in names if name != "DELEGATE"),
    )


def embed_metadata(tflite_bytes, metadata, name=METADATA_NAME):
    """Return `tflite_bytes` with `metadata` (a dict, stored as UTF-8 JSON) in the flatbuffer's
    `metadata` field under `name`, replacing an entry of that name."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_bytes))
    entries = [entry for entry in (model.metadata or []) if _decode(entry.name) != name]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = entries + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_embedded_metadata(tflite, name=METADATA_NAME):
    """The dict stored by `embed_metadata` in a `.tflite` (path or bytes), or None if absent."""
    from tensorflow.lite.tools import flatbuffer_utils

    if not isinstance(tflite, (bytes, bytearray)):
        with open(tflite, "rb") as file:
            tflite = file.read()
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    for entry in model.metadata or []:
        if _decode(entry.name) == name:
            data = model.buffers[entry.buffer].data
            return json.loads(bytes(np.asarray(data, dtype=np.uint8)).decode("utf-8"))
    return None


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value
