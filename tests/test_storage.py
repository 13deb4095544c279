"""Safe writes: atomic and durable replacement, private modes, no orphan temporaries, exclusive locks,
a real `kill -9` in the middle of gallery writes, and output paths refused before any work."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mobiface_tf import storage
from mobiface_tf.errors import BadInputError, WriteError
from mobiface_tf.gallery import Gallery

IDENTITY = {"name": "synthetic", "embedding_size": 8, "hash": "feedface"}


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """A umask that would make files world-readable (0644), as on most desktops."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_atomic_write_replaces_whole_files_with_mode_0600(tmp_path, open_umask):
    target = tmp_path / "sub" / "data.bin"
    storage.atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first" and _mode(target) == 0o600
    os.chmod(target, 0o644)
    storage.atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second" and _mode(target) == 0o600  # a new file, private again
    storage.atomic_write_bytes(tmp_path / "public.txt", b"x", mode=None)
    assert _mode(tmp_path / "public.txt") == 0o644  # datasets follow the umask
    assert os.listdir(target.parent) == ["data.bin"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "gallery.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with storage.atomic_write(target) as stream:
            stream.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["gallery.npz"]


def test_the_file_and_its_folder_are_synced_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        return real_fsync(fd)

    def replace(source, target):
        events.append("rename")
        return real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    storage.atomic_write_bytes(tmp_path / "g.npz", b"data")
    assert events == ["fsync file", "rename", "fsync folder"]


def test_stale_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "g.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".g.npz.{dead}.0123abcd.tmp"
    stale.write_bytes(b"left by a killed writer")
    live = tmp_path / f".g.npz.{os.getppid()}.0123abcd.tmp"  # a live process: not ours to delete
    live.write_bytes(b"being written")
    other = tmp_path / f".h.npz.{dead}.0123abcd.tmp"  # another file's temporary
    other.write_bytes(b"x")
    storage.atomic_write_bytes(target, b"new")
    assert not stale.exists() and live.exists() and other.exists()


def test_output_paths_are_refused_in_one_line_before_anything_is_written(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    cases = [
        (lambda: storage.check_output_file(tmp_path / "folder"), "is a folder"),
        (lambda: storage.check_output_file(tmp_path / "a_file" / "g.npz"), "is a file, not a folder"),
        (lambda: storage.check_output_folder(tmp_path / "a_file"), "exists and is a file"),
        (lambda: storage.check_output_folder(tmp_path / "a_file" / "deeper"), "is a file, not a folder"),
    ]
    for check, message in cases:
        with pytest.raises(BadInputError, match=message) as caught:
            check()
        assert "\n" not in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["a_file", "folder"]
    assert storage.check_output_file(tmp_path / "new" / "deeper" / "g.npz").name == "g.npz"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    read_only = tmp_path / "kept.npz"
    read_only.write_bytes(b"keep me")
    os.chmod(read_only, 0o444)
    if os.geteuid() != 0:  # root may write anything; the check follows os.access
        with pytest.raises(BadInputError, match="read-only"):
            storage.check_output_file(read_only)


def test_a_write_that_fails_midway_is_one_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "g.npz"
    target.write_bytes(b"old")
    with pytest.raises(WriteError, match="cannot write.*left as it was"):
        with storage.atomic_write(target) as stream:
            stream.write(b"new")
            raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["g.npz"]


# -- galleries under concurrency and kill -9 -------------------------------------------------------
_APPENDER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from mobiface_tf import storage
    from mobiface_tf.gallery import Gallery

    path, name, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    identity = {"name": "synthetic", "embedding_size": 8, "hash": "feedface"}

    def waiting():
        print("waiting", flush=True)

    with storage.exclusive(path, on_wait=waiting):
        print("locked", flush=True)
        try:
            gallery = Gallery.load(path)
        except Exception:
            gallery = Gallery(model_identity=identity)
        time.sleep(hold)  # the long part of an enroll: detecting and embedding faces
        gallery.enroll_embeddings(name, np.random.default_rng(len(name)).normal(size=(3, 8)))
        gallery.save(path)
    print("saved", flush=True)
""")


def test_two_concurrent_appends_both_land_one_after_the_other(tmp_path):
    path = tmp_path / "gallery.npz"
    first = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), "alice", "2.0"], stdout=subprocess.PIPE,
                             text=True)
    assert first.stdout.readline().strip() == "locked"
    second = subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), "bob", "0"], stdout=subprocess.PIPE,
                              text=True)
    assert second.stdout.readline().strip() == "waiting"  # it does not interleave with the first
    assert first.wait(60) == 0 and second.wait(60) == 0
    gallery = Gallery.load(path)
    assert gallery.names == ["alice", "bob"] and len(gallery) == 6
    assert storage.temporaries_of(path) == []


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from mobiface_tf.gallery import Gallery

    path = sys.argv[1]
    identity = {"name": "synthetic", "embedding_size": 512, "hash": "feedface"}
    gallery = Gallery(model_identity=identity)
    rng = np.random.default_rng(0)
    for k in range(1000):
        # Big enough (a few MB) that a kill often lands inside a write.
        gallery.enroll_embeddings(f"person_{k:04d}", rng.normal(size=(400, 512)))
        gallery.save(path)
        print(k + 1, flush=True)
""")


def test_kill_9_at_any_moment_leaves_a_loadable_gallery_with_nobody_lost(tmp_path):
    path = tmp_path / "gallery.npz"
    rng = np.random.default_rng(0)
    torn = 0  # kills that landed while a new gallery was being written
    for round_ in range(6):
        process = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        confirmed = int(process.stdout.readline())  # at least one save finished
        time.sleep(float(rng.uniform(0.05, 0.6)))
        if round_ % 2:  # every other round: wait for a write in progress, then kill it
            deadline = time.monotonic() + 10
            while not storage.temporaries_of(path) and time.monotonic() < deadline:
                time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        remaining = process.stdout.read().split()
        process.wait(30)
        confirmed = max([confirmed, *map(int, remaining)])
        torn += bool(storage.temporaries_of(path))
        gallery = Gallery.load(path)  # the old or the new gallery, never a torn one
        # Every confirmed save is there; at most the one in flight when killed is extra.
        assert confirmed <= len(gallery.names) <= confirmed + 1, (round_, confirmed, len(gallery.names))
        assert gallery.names == [f"person_{k:04d}" for k in range(len(gallery.names))]
    assert torn >= 1
    # A temporary left by the last kill is removed by the next write to the gallery.
    gallery.save(path)
    assert storage.temporaries_of(path) == []
    assert sorted(os.listdir(tmp_path)) == ["gallery.npz"]


def test_evaluation_caches_of_faces_and_embeddings_are_private(tmp_path, open_umask):
    from PIL import Image

    from mobiface_tf.eval.identification import DistractorSet
    from mobiface_tf.eval.lfw import _evaluate_with_embedding_cache, cached_aligned_faces

    images = tmp_path / "images" / "Someone"
    images.mkdir(parents=True)
    Image.fromarray(np.zeros((112, 112, 3), np.uint8)).save(images / "Someone_0001.jpg")
    faces_cache = tmp_path / "cache" / "lfw_aligned_aligned.npz"
    cached_aligned_faces(tmp_path / "images", ["Someone/Someone_0001.jpg"], "aligned", cache_path=faces_cache)
    embeddings_cache = tmp_path / "cache" / "embeddings" / "lfw.npz"
    _evaluate_with_embedding_cache(lambda cache: cache.update(plain=np.ones((1, 8), np.float32)) or {},
                                   embeddings_cache)
    distractors = DistractorSet.synthetic(tmp_path / "cache" / "distractors" / "synthetic.npy", 16, 8)
    for path in (faces_cache, embeddings_cache, distractors.path, distractors.path.with_suffix(".json")):
        assert _mode(path) == 0o600, path
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]
