"""Writing user files safely: checked output paths, atomic and durable replacement, private modes, locks.

Every file the tools write that a reader could find half-written goes through `atomic_write`
(a file object) or `atomic_path` (a path, for writers that open files themselves):

* the bytes go to a temporary file with a unique name in the destination's own folder
  (`.<name>.<pid>.<random>.tmp`), created with the final mode from the start;
* on success the file is flushed and fsync'ed, renamed over the destination (atomic on POSIX),
  and the folder is fsync'ed, so after a crash or a `kill -9` at any moment the destination is
  either the old file or the complete new one;
* on failure (an exception, Ctrl-C) the temporary file is removed and the destination untouched;
  one left by a killed process is removed by the next write to that destination, once its
  process is gone.

`exclusive(path)` serialises read-modify-write sequences (two `mobiface enroll --append` on one
gallery): an advisory `flock` on the destination's folder, released by the kernel when its
holder exits, however it exits. No lock file is left behind.

Files that hold faces or embeddings are written with `PRIVATE_MODE` (0600): biometric data
readable by its owner only.

Nothing here imports TensorFlow.
"""

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
from pathlib import Path

from mobiface_tf.errors import BadInputError, WriteError

PRIVATE_MODE = 0o600
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def check_output_file(path, what="output file"):
    """Refuse, in one line, an output file path that cannot be written, before any work starts.

    The path must not be a folder; its nearest existing ancestor must be a folder this process
    may create entries in (missing parent folders are created when the file is written).

    Returns:
        The path as a `Path`.

    Raises:
        BadInputError: naming the path and the problem. Nothing is written or created.
    """
    path = Path(path).expanduser()
    if not path.name or path.is_dir():
        raise BadInputError(f"the {what} is a folder; give a file name inside it", path=path)
    if path.exists() and not os.access(path, os.W_OK):
        # It would be replaced by a rename, which only needs the folder; a read-only file says
        # its owner wants it kept.
        raise BadInputError(f"the {what} exists and is read-only", path=path)
    _check_parent(path, what)
    return path


def check_output_folder(path, what="output folder"):
    """Refuse, in one line, an output folder that is a file or cannot be created or written.

    Returns:
        The path as a `Path`.

    Raises:
        BadInputError: naming the path and the problem. Nothing is created.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise BadInputError(f"the {what} exists and is a file, not a folder", path=path)
    if path.is_dir():
        if not _writable_folder(path):
            raise BadInputError(f"the {what} is not writable (permission denied)", path=path)
        return path
    _check_parent(path, what)
    return path


def _check_parent(path, what):
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise BadInputError(f"cannot create the {what}: {ancestor} is a file, not a folder", path=path)
    if not _writable_folder(ancestor):
        raise BadInputError(f"cannot create the {what}: folder {ancestor} is not writable (permission denied)",
                            path=path)


def _writable_folder(folder):
    return os.access(folder, os.W_OK | os.X_OK)


@contextlib.contextmanager
def atomic_path(path, mode=PRIVATE_MODE):
    """Yield a temporary path beside `path`; when the block ends normally, it replaces `path`.

    The temporary file already exists (empty, with `mode`) when the block starts; the writer may
    reopen or truncate it (reopening keeps the mode). See the module docstring for the
    guarantees.

    Args:
        path: the destination file.
        mode: permission bits of the new file: `PRIVATE_MODE` (default) for faces and
            embeddings, None for the usual 0666 less the umask.

    Raises:
        WriteError: the folder cannot be created or the file cannot be written, synced or
            renamed (disk full, permission); the destination is then unchanged.
    """
    path = Path(path)
    temporary = _create_temporary(path, mode)
    committed = False
    try:
        yield temporary
        _sync_file(temporary, path)
        _replace(temporary, path)
        committed = True
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                temporary.unlink()


@contextlib.contextmanager
def atomic_write(path, mode=PRIVATE_MODE):
    """Yield a binary file object whose content replaces `path` when the block ends normally.

    Same guarantees and arguments as `atomic_path`.
    """
    with atomic_path(path, mode) as temporary:
        try:
            with open(temporary, "r+b") as stream:
                yield stream
        except OSError as error:
            raise WriteError(f"cannot write ({_reason(error)}); the file was left as it was", path=path) from None


def atomic_write_bytes(path, data, mode=PRIVATE_MODE):
    """Write `data` to `path` through `atomic_write`; returns the path."""
    with atomic_write(path, mode) as stream:
        stream.write(data)
    return Path(path)


def _create_temporary(path, mode):
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create its folder ({_reason(error)}); nothing was written", path=path) from None
    remove_stale_temporaries(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    bits = PRIVATE_MODE if mode is None else mode
    for _ in range(16):
        temporary = temporary_sibling(path)
        try:
            fd = os.open(temporary, flags, bits)
        except FileExistsError:
            continue
        except OSError as error:
            raise WriteError(f"cannot write in its folder ({_reason(error)}); nothing was written",
                             path=path) from None
        try:
            # os.open applies the umask; set the mode exactly (0600 stays 0600 whatever the umask).
            os.fchmod(fd, _default_mode() if mode is None else mode)
        finally:
            os.close(fd)
        return temporary
    raise WriteError("cannot find a free temporary name beside it", path=path)


def temporary_sibling(path):
    """A fresh temporary name beside `path` (`.<name>.<pid>.<random>.tmp`), which
    `remove_stale_temporaries` recognises once its process is gone."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _default_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_file(temporary, path):
    try:
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise WriteError(f"cannot write ({_reason(error)}); the file was left as it was", path=path) from None


def _replace(temporary, path):
    try:
        os.replace(temporary, path)
    except OSError as error:
        raise WriteError(f"cannot replace it ({_reason(error)}); the file was left as it was", path=path) from None
    sync_folder(path.parent)


def sync_folder(folder):
    """fsync a folder, so a rename inside it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        # Some file systems cannot sync a folder (EINVAL); the rename itself has happened.
        if error.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def remove_stale_temporaries(path):
    """Delete temporary files (or staging folders) of `path` left by processes that no longer
    exist; returns their count."""
    path = Path(path)
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or match["name"] != path.name or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
    return removed


def temporaries_of(path):
    """The temporary files of `path` present now (any process's)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(entry for entry in path.parent.iterdir()
                  if (match := _TEMPORARY.match(entry.name)) and match["name"] == path.name)


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@contextlib.contextmanager
def exclusive(path, on_wait=None):
    """Hold an exclusive lock for writing `path` (and reading it first) for the duration of the block.

    The lock is an advisory `flock` on the folder holding `path` (created if missing), so it
    also covers a `path` that does not exist yet and leaves no lock file behind; the kernel
    releases it when the holder exits, even by `kill -9`. Other writers through `exclusive` in
    the same folder wait their turn.

    Args:
        path: the file about to be read and rewritten.
        on_wait: called once, with no argument, if another process holds the lock, before
            waiting for it.

    Raises:
        WriteError: the folder cannot be created or opened.
    """
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        raise WriteError(f"cannot lock its folder ({_reason(error)})", path=path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _reason(error):
    return error.strerror or str(error)
