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


@contextlib.contextmanager
def temp_output_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target`` with the same suffix.

    On success the temporary file replaces ``target`` atomically; on error it
    is removed and ``target`` is left untouched.
    """
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target_path.stem}.", suffix=target_path.suffix, dir=target_path.parent
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
