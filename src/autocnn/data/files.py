"""Dataset files on disk: where the cache is, md5 checks that are remembered, safe downloads.

Hashing the 66 MB K49 image file costs a noticeable fraction of a second, and every worker
process loads the data again, so a file that passed its md5 check is remembered by
(path, size, mtime): in this process, and in ``verified.json`` in the cache folder for the next
one. A download is written to a temporary name beside its target, checked, then renamed, so an
official file name never holds a half-written or corrupt file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from autocnn.errors import DataError

CACHE_ENV = "AUTOCNN_CACHE_DIR"
DATA_DIR_ENV = "AUTOCNN_DATA_DIR"
MIRROR_ENV = "AUTOCNN_MIRROR"
OFFICIAL_BASE_URL = "http://codh.rois.ac.jp/kmnist/dataset"
DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20
_SIDECAR = "verified.json"

# (resolved path, size, mtime_ns) -> md5 of files hashed in this process.
_md5_memo: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """Folder where downloads go: ``$AUTOCNN_CACHE_DIR``, else ``~/.cache/autocnn``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "autocnn"


def base_url(override: str | None = None) -> str:
    """Download base URL: ``override``, else ``$AUTOCNN_MIRROR``, else the official host."""
    url = override or os.environ.get(MIRROR_ENV) or OFFICIAL_BASE_URL
    return url.rstrip("/")


def file_key(path: Path) -> tuple[str, int, int]:
    """(resolved path, size, mtime_ns): changes whenever the file is replaced or rewritten."""
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def md5_file(path: Path) -> str:
    """The md5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_sidecar() -> dict[str, list]:
    try:
        data = json.loads((cache_dir() / _SIDECAR).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_sidecar(key: tuple[str, int, int], md5: str) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = _read_sidecar()
        data[key[0]] = [key[1], key[2], md5]
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".verified.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, folder / _SIDECAR)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def known_md5(path: Path) -> str | None:
    """The md5 remembered for this exact file (same path, size and mtime), or ``None``."""
    key = file_key(path)
    if key in _md5_memo:
        return _md5_memo[key]
    entry = _read_sidecar().get(key[0])
    if isinstance(entry, list) and len(entry) == 3 and tuple(entry[:2]) == key[1:]:
        _md5_memo[key] = str(entry[2])
        return str(entry[2])
    return None


def remember_md5(path: Path, md5: str) -> None:
    key = file_key(path)
    _md5_memo[key] = md5
    _write_sidecar(key, md5)


def check_file(path: Path, md5: str, size: int | None = None) -> str:
    """Return ``"ok"`` or ``"mismatch"`` for ``path`` against its expected md5 (and size).

    A file whose size or md5 was checked before is not hashed again.
    """
    if size is not None and path.stat().st_size != size:
        return "mismatch"
    got = known_md5(path)
    if got is None:
        got = md5_file(path)
        remember_md5(path, got)
    return "ok" if got == md5 else "mismatch"


def verify_file(path: Path, md5: str, size: int | None = None) -> None:
    """Raise :class:`DataError` unless ``path`` has the expected md5 (and size).

    Example::

        >>> verify_file(Path("kmnist-test-labels.npz"), "3ae489a79983d0fe386152684e3b5412", 5304)
    """
    if check_file(path, md5, size) == "ok":
        return
    got_size = path.stat().st_size
    got = md5_file(path) if size is None or got_size == size else f"(not hashed, size {got_size})"
    expected_size = f", {size} bytes" if size is not None else ""
    raise DataError(
        f"{path}: md5 mismatch: expected {md5}{expected_size}, got {got}. The file is corrupt or "
        "not the official one; delete it and download it again (autocnn downloads missing files), "
        "or replace it with a good copy."
    )


def download_file(
    url: str, dest: Path, md5: str | None, timeout: float = DOWNLOAD_TIMEOUT_S
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking the md5 before the file gets its name.

    On any failure nothing is left at ``dest`` or beside it, and a :class:`DataError` names the
    URL and the way around it (put the files in a folder, pass ``--data-dir``).

    Example::

        >>> download_file(f"{base_url()}/kmnist/kmnist-test-labels.npz",
        ...               cache_dir() / "kmnist" / "kmnist-test-labels.npz",
        ...               "3ae489a79983d0fe386152684e3b5412")
    """
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if md5 is not None and got != md5:
            raise DataError(
                f"download of {url} is corrupt: md5 {got}, expected {md5}; nothing was saved. "
                f"Try again, or point ${MIRROR_ENV} at another mirror, or download the file "
                "yourself and pass --data-dir DIR."
            )
        os.replace(tmp, dest)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        for folder in created:  # the folders this call made, innermost first, if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(exc, DataError) or not isinstance(exc, Exception):
            raise  # our own message, or Ctrl-C
        # URLError, timeouts, http.client.IncompleteRead (a truncated body), a full disk, ...
        raise _download_error(url, exc) from exc
    remember_md5(dest, got)
    return dest


def _download_error(url: str, exc: BaseException) -> DataError:
    if isinstance(exc, urllib.error.HTTPError):
        reason = f"HTTP {exc.code} {exc.reason}"
    else:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
    return DataError(
        f"could not download {url}: {reason}. If this machine is offline, download the official "
        f"files elsewhere, put them in a folder and pass --data-dir DIR (or set ${DATA_DIR_ENV})."
    )
