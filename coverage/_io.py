"""Atomic writes, temporary output paths and content hashes.

Every output goes through here so that a failed or interrupted run never
leaves a half-written file over a good one: write beside the target, fsync,
then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


TEMP_MARK = "fcov-tmp-"


@contextlib.contextmanager
def temp_output_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target`` with the same suffix.

    On success the temporary file replaces ``target`` atomically; on error it
    is removed and ``target`` is left untouched.
    """
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's PID is in the name: a run killed with SIGKILL cannot remove its temporary file, and the
    # next run's output check (check_output_path) removes those whose process is gone.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target_path.stem}.{TEMP_MARK}{os.getpid()}-", suffix=target_path.suffix, dir=target_path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    # Some writers (GDAL drivers) refuse to open an existing empty file.
    tmp_path.unlink()
    try:
        yield tmp_path
        if tmp_path.is_file():
            with open(tmp_path, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp_path, target_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            if tmp_path.is_dir():
                import shutil

                shutil.rmtree(tmp_path)
            else:
                tmp_path.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    with temp_output_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text_atomic(target: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    return write_bytes_atomic(target, text.encode(encoding))


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(*parts: object) -> str:
    """A stable hex key from file hashes, parameters and the package version."""
    from coverage import __version__

    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        digest.update(b"\x1f")
        digest.update(repr(part).encode())
    return digest.hexdigest()[:32]


def check_output_path(target: str | os.PathLike[str], *, folder: bool = False, option: str = "--out") -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    ``folder``: the command writes a folder of results there (else one file). Refused, with the path and
    the fix: a folder output that is an existing file, a file output that is an existing folder, a path
    below a regular file, and a place that is not writable (permissions, an immutable folder or file, a
    read-only file system). Nothing is created: the check uses ``os.access``, so an interrupted check
    leaves no trace beside a previous result. Returns the path.
    """
    from coverage.errors import InputFileError

    path = Path(target)
    if folder and path.exists() and not path.is_dir():
        msg = (f"{option} {path} is an existing file, but a folder of results is written there; "
               f"pass a folder path (e.g. {path.with_suffix('')}_results) or move the file away")
        raise InputFileError(msg)
    if not folder and path.is_dir():
        msg = f"{option} {path} is an existing folder; name the file to write inside it, e.g. {path / ('result' + path.suffix)}"
        raise InputFileError(msg)
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        msg = (f"{option} {path}: {existing} is a regular file, so no folder can be created below it; "
               "choose an output path that is not inside a file")
        raise InputFileError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputFileError(f"{option} {path}: cannot write in {existing}: {_why_unwritable(existing)}")
    if not folder and path.is_file() and not os.access(path, os.W_OK):
        raise InputFileError(f"{option} {path}: the existing file cannot be replaced: {_why_unwritable(path)}")
    remove_stale_temp_files(path if folder else path.parent)
    return path


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files of :func:`temp_output_path` left in ``folder`` by runs that were killed.

    Only files carrying :data:`TEMP_MARK` and the PID of a process that no longer exists are removed, so a
    run still writing beside the same output is left alone.
    """
    import re
    import shutil

    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    pattern = re.compile(rf"^\..*\.{TEMP_MARK}(\d+)-")
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def _why_unwritable(path: Path) -> str:
    """The likely reason ``path`` is not writable, with the fix."""
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return "it is on a read-only file system; write the results to another disk or folder (e.g. --out ~/fcov-results)"
    return ("permission denied (or the folder is immutable: check `ls -ld` and `lsattr -d`); choose a folder you can "
            "write to, or fix its permissions")


def read_toml(path: str | os.PathLike[str], what: str, hint: str) -> dict[str, Any]:
    """Parse a TOML input file, turning every failure into an InputFileError naming ``what`` and the file.

    ``hint`` says where the expected format is described. Read as utf-8-sig: Windows editors add a BOM that
    TOML itself does not allow.
    """
    import tomllib

    from coverage.errors import InputFileError

    toml_path = Path(path)
    if not toml_path.is_file():
        state = "is a directory" if toml_path.is_dir() else "does not exist"
        raise InputFileError(f"{what} {toml_path} {state}; pass an existing TOML file ({hint})")
    try:
        return tomllib.loads(toml_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as err:
        raise InputFileError(f"{what} {toml_path}: not UTF-8 text ({err}); save it as UTF-8") from err
    except tomllib.TOMLDecodeError as err:
        raise InputFileError(f"{what} {toml_path}: not valid TOML ({err}); fix the syntax ({hint})") from err
    except OSError as err:
        raise InputFileError(f"{what} {toml_path}: cannot be read ({err.strerror or err})") from err

