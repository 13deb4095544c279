"""Whether an aligned tree that `mobiface-align` makes is finished: its state file, checked against its source.

`mobiface-align` writes `<output_dir>/align_state.json` before it aligns anything (`"finished":
false`) and again once every source photo has been tried (`"finished": true`), naming the source
folder, the landmark file and the number of source photos. A run killed in between leaves
`"finished": false`, so a partial tree is never taken for a complete one; a source that gained
photos since is not finished either. Trees made elsewhere (no state file) are taken as they are.
"""

import json
import os
from pathlib import Path

from mobiface_tf.errors import BadInputError

STATE_NAME = "align_state.json"


def source_photos(input_dir):
    """Relative paths (posix) of every photo `mobiface-align` reads in a folder-per-identity tree
    (the one walker and image rule, `sources.scan_identity_tree`)."""
    from mobiface_tf.data.sources import list_identity_tree

    input_dir = Path(input_dir)
    paths, _, _ = list_identity_tree(input_dir)
    return [Path(path).relative_to(input_dir).as_posix() for path in paths]


def write_state(output_dir, *, input_dir, landmarks, photos, finished, aligned=None, failed=None):
    """Write the state file (atomically): source folder, landmark file, photo count, finished."""
    state = {"input_dir": os.path.abspath(input_dir), "landmarks": landmarks and os.path.abspath(landmarks),
             "source_photos": int(photos), "finished": bool(finished), "aligned": aligned, "failed": failed}
    path = Path(output_dir) / STATE_NAME
    partial = path.with_name(f".{STATE_NAME}.partial")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(partial, path)


def read_state(output_dir):
    """The state dict of an aligned tree, or None when it has no state file (or an unreadable one)."""
    try:
        state = json.loads((Path(output_dir) / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def is_finished(output_dir, input_dir):
    """True when `output_dir` holds a finished alignment of `input_dir` as it is now (same
    folder, same number of photos); False when unfinished, of another source, or unknown."""
    state = read_state(output_dir)
    if not state or not state.get("finished"):
        return False
    if state.get("input_dir") != os.path.abspath(input_dir):
        return False
    return state.get("source_photos") == len(source_photos(input_dir))


def check_not_interrupted(output_dir):
    """Raise BadInputError when `output_dir` is a tree whose alignment stopped before its end.

    The error says how to finish it (`mobiface-align` resumes where it stopped).
    """
    state = read_state(output_dir)
    if state is None or state.get("finished"):
        return
    landmarks = f" --landmarks={state['landmarks']}" if state.get("landmarks") else ""
    raise BadInputError(
        f"this aligned tree is incomplete: mobiface-align stopped before its end ({state.get('source_photos')} "
        f"source photos); finish it with `mobiface-align --input_dir={state.get('input_dir')} "
        f"--output_dir={os.path.abspath(output_dir)}{landmarks}`", output_dir)
