"""Read and write the user's files safely.

Writes: a crash or a full disk never leaves a half-written file behind (`write_atomic`), and a
file that must not be replaced is created exclusively (`write_exclusive`: of many concurrent
writers exactly one wins, never check-then-replace). A write that fails raises `WriteError`, one
line naming the file, which is both a `VramtuiError` (exit 2) and an `OSError` (so callers that
treat a cache as optional can still ignore it).

Reads: `read_capped` opens without blocking, refuses anything that is not a regular file (a
FIFO would hang the read, a device such as /dev/zero never ends) and stops after `limit` bytes
actually read, whatever `stat` says the size is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from vramtui.core.errors import VramtuiError

_READ_CHUNK = 1 << 20
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS = (
    os.O_RDONLY
    | _NONBLOCK  # a FIFO opens at once instead of waiting for a writer
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class RefusedFile(OSError):
    """A path that is not a regular file, or a file over the size limit: `strerror` says which."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(errno.EINVAL, reason, os.fspath(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class WriteError(VramtuiError, OSError):
    """A file that could not be written (read-only folder, a folder that is a file, disk full)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        OSError.__init__(self, errno.EIO, reason, os.fspath(path))

    def __str__(self) -> str:
        return f"{self.filename}: cannot write ({self.strerror})"


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO", "a device", ...)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular_reason(mode: int) -> str:
    return f"is {file_kind(mode)}, not a regular file; not read"


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """`os.stat` (symlinks followed) that raises `RefusedFile` for anything but a regular file;
    nothing is opened, so a FIFO cannot hang it."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise RefusedFile(path, not_regular_reason(st.st_mode))
    return st


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (through symlinks); False for anything else or an error."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike[str]) -> int:
    """An fd for reading `path`, refused (RefusedFile) unless it is a regular file. The open does
    not block (O_NONBLOCK), and the type is checked on the opened file, so a swap between a
    check and the open cannot slip a FIFO or device in."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise RefusedFile(path, not_regular_reason(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_capped(path: str | os.PathLike[str], limit: int) -> bytes:
    """The whole content of the regular file `path`; RefusedFile when it is not a regular file
    or holds more than `limit` bytes (counted as read, not as `stat` claims)."""
    fd = open_regular(path)
    try:
        parts: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(_READ_CHUNK, limit + 1 - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    if got > limit:
        raise RefusedFile(path, f"is too large (over {limit:,} bytes); not read")
    return b"".join(parts)


def read_text_capped(path: str | os.PathLike[str], limit: int) -> str:
    """`read_capped` decoded as UTF-8 (UnicodeDecodeError, a ValueError, when it is not)."""
    return read_capped(path, limit).decode("utf-8")


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _temp_with(folder: Path, name: str, raw: bytes) -> str:
    """A synced temporary file in `folder` holding `raw`; returns its path."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(raw)
            tmp.flush()
            os.fsync(tmp.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(path.parent, _reason(err)) from None


def _staged(path: Path, data: str | bytes) -> str:
    """`data` in a synced temporary file beside `path` (its parent made first): the name."""
    _make_parent(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        return _temp_with(path.parent, path.name, raw)
    except OSError as err:
        raise WriteError(path, _reason(err)) from None


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    tmp_name = _staged(path, data)
    try:
        os.replace(tmp_name, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise WriteError(path, _reason(err)) from None


def write_exclusive(path: Path, data: str | bytes) -> None:
    """Create `path` with `data`, complete or not at all; FileExistsError when it exists.

    The content goes to a synced temporary file first, which is then hard-linked to `path`:
    `link` fails when the name exists, so of many concurrent writers exactly one succeeds, and
    a reader never sees a partial file. Where hard links are not supported, the name is claimed
    with O_CREAT|O_EXCL and the content renamed over the (still empty) claim.
    """
    tmp_name = _staged(path, data)
    try:
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            raise
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise WriteError(path, _reason(err)) from None
            _claim_then_replace(tmp_name, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def _claim_then_replace(tmp_name: str, path: Path) -> None:
    """The fallback of `write_exclusive` on file systems without hard links."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise
    except OSError as err:
        raise WriteError(path, _reason(err)) from None
    os.close(fd)
    try:
        os.replace(tmp_name, path)
    except OSError as err:
        raise WriteError(path, _reason(err)) from None


def append_line(path: Path, line: str) -> None:
    """Append one line (JSONL history): the whole line in one write with O_APPEND, or nothing.

    A last line left without its newline (a torn write, another tool) is closed first, so the
    new record starts on a line of its own. A short write (a full disk) is cut back off and
    raised as WriteError; concurrent appenders each write whole lines."""
    _make_parent(path)
    payload = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NONBLOCK, 0o644)
    except OSError as err:
        raise WriteError(path, _reason(err)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise WriteError(path, f"is {file_kind(st.st_mode)}, not a regular file")
        if st.st_size and not _ends_with_newline(path):
            payload = b"\n" + payload
        written = os.write(fd, payload)
        if written != len(payload):
            with contextlib.suppress(OSError):
                os.ftruncate(fd, st.st_size)
            raise WriteError(path, f"short write ({written} of {len(payload)} bytes); undone")
    except WriteError:
        raise
    except OSError as err:
        raise WriteError(path, _reason(err)) from None
    finally:
        os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    """Whether the file's last byte is a newline (the O_APPEND fd cannot be read)."""
    try:
        fd = open_regular(path)
    except OSError:
        return True  # cannot tell: write as usual
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return True
        os.lseek(fd, size - 1, os.SEEK_SET)
        return os.read(fd, 1) == b"\n"
    finally:
        os.close(fd)
