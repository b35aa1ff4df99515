"""Named datasets and their official files: what exists, where it is, and whether it is intact.

Facts (sizes, md5s, host) come from the official Kuzushiji release (ROIS-DS CODH, CC BY-SA 4.0).
Derived sets (:mod:`autocnn.data.derived`) have no files: they need their base set's.
:func:`dataset_list` is what ``autocnn datasets`` shows: every name a user can pass.

A file is looked for under its official name in the user's data folder (``data_dir`` argument,
else ``$AUTOCNN_DATA_DIR``), directly or in its ``kmnist/`` / ``k49/`` subfolder, then in the
cache; only then is it downloaded into the cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autocnn.data.derived import DERIVED
from autocnn.data.files import (
    DATA_DIR_ENV,
    base_url,
    cache_dir,
    check_file,
    download_file,
    known_md5,
    verify_file,
)
from autocnn.errors import DataError

PARTS = ("train", "test")


@dataclass(frozen=True)
class OfficialFile:
    """One file of the official release; ``folder`` is both the host's and the cache's subfolder."""

    filename: str
    size: int
    md5: str
    folder: str
    optional: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its classes and, per part, its (images, labels) official file names
    and its number of images."""

    name: str
    n_classes: int
    parts: dict[str, tuple[str, str]]
    description: str
    sizes: dict[str, int] = field(default_factory=dict)


def _files(folder: str, rows: list[tuple[str, int, str]], optional: bool = False) -> dict:
    return {name: OfficialFile(name, size, md5, folder, optional) for name, size, md5 in rows}


OFFICIAL_FILES: dict[str, OfficialFile] = {
    **_files(
        "kmnist",
        [
            ("kmnist-train-imgs.npz", 18_384_171, "a183fbc01ed9a345513b145673d3d0bb"),
            ("kmnist-train-labels.npz", 29_700, "b0e1d240e8afec72b50437fc3bc5908a"),
            ("kmnist-test-imgs.npz", 3_079_479, "dace6de62ca8b90843cc45366337d02e"),
            ("kmnist-test-labels.npz", 5_304, "3ae489a79983d0fe386152684e3b5412"),
        ],
    ),
    **_files(
        "k49",
        [
            ("k49-train-imgs.npz", 66_117_696, "7ac088b20481cf51dcd01ceaab89d821"),
            ("k49-train-labels.npz", 164_485, "44a8e1b893f81e63ff38d73cad420f7a"),
            ("k49-test-imgs.npz", 10_971_201, "d352e201d846ce6b94f42c990966f374"),
            ("k49-test-labels.npz", 27_450, "4da6f7a62e67a832d5eb1bd85c5ee448"),
        ],
    ),
    # Class names (index, codepoint, char): nice to have, never needed to train.
    **_files("kmnist", [("kmnist_classmap.csv", 151, "899202f6e8dc29a321ac210a03d0f2f1")], True),
    **_files("k49", [("k49_classmap.csv", 697, "f7d0d0391f68bdf0fe4cf160ceb85753")], True),
}

_KMNIST_TEST = ("kmnist-test-imgs.npz", "kmnist-test-labels.npz")
DATASETS: dict[str, DatasetSpec] = {
    "kmnist": DatasetSpec(
        "kmnist",
        10,
        {p: (f"kmnist-{p}-imgs.npz", f"kmnist-{p}-labels.npz") for p in PARTS},
        "Kuzushiji-MNIST: 10 classes, 60,000 train / 10,000 test, balanced",
        {"train": 60_000, "test": 10_000},
    ),
    "k49": DatasetSpec(
        "k49",
        49,
        {p: (f"k49-{p}-imgs.npz", f"k49-{p}-labels.npz") for p in PARTS},
        "Kuzushiji-49: 49 classes, 232,365 train / 38,547 test, imbalanced",
        {"train": 232_365, "test": 38_547},
    ),
    "kmnist10k": DatasetSpec(
        "kmnist10k",
        10,
        {p: _KMNIST_TEST for p in PARTS},
        "the 10,000 official KMNIST test images; per class the first 800 in file order are "
        "'train', the last 200 'test'",
        {"train": 8_000, "test": 2_000},
    ),
}
KMNIST10K_TRAIN_PER_CLASS = 800
USER_FORMATS = ("npz:PATH", "idx:DIR", "dir:DIR", "holdout:NAME", "resize:SIDE:NAME")
USER_FORMAT_LAYOUTS = {
    "npz:PATH": "an .npz holding x_train, y_train, x_test, y_test (or x, y: train only), or a "
    "folder (or FOLDER/PREFIX) of <prefix>-{train,test}-{imgs,labels}.npz each holding arr_0; "
    "images uint8 (N, H, W) or (N, H, W, C), labels integers 0..classes-1",
    "idx:DIR": "a folder of MNIST-format IDX files, optionally .gz: train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte",
    "dir:DIR": "image files (PNG, JPEG, ...) in one folder per class: DIR/train/<class>/ and "
    "DIR/test/<class>/, or DIR/<class>/ (train only); class k = the k-th folder name in "
    "sorted order",
    "holdout:NAME": "dataset NAME with a stratified 15 % of its training images held out as its "
    "test part, for a set without one (fit does this itself)",
    "resize:SIDE:NAME": "dataset NAME with every image scaled to a longer side of SIDE pixels, "
    "aspect ratio kept (fit chooses a size itself for large images)",
}


def known_names() -> list[str]:
    """Every name :func:`autocnn.data.load` accepts (user formats with their placeholder)."""
    return [*DATASETS, *DERIVED, *USER_FORMATS]


def get_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``; a :class:`DataError` listing the known names otherwise."""
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset {name!r}; known: {', '.join(known_names())} "
            "(npz:PATH is a .npz file or a folder of <prefix>-{train,test}-{imgs,labels}.npz, "
            "idx:DIR a folder of MNIST-format IDX files, dir:DIR a folder of class folders of "
            "images)"
        )
    return DATASETS[name]


def search_dirs(data_dir: str | os.PathLike | None = None, folder: str = "") -> list[Path]:
    """Folders searched for an official file of ``folder`` ("kmnist"/"k49"), in order.

    DataError if the user's folder does not exist (nothing is downloaded then)."""
    user = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    dirs: list[Path] = []
    if user is not None:
        root = Path(user).expanduser()
        if not root.is_dir():  # a typo must not turn into a download attempt
            given = "--data-dir" if data_dir is not None else f"${DATA_DIR_ENV}"
            raise DataError(
                f"{given} {root}: no such folder. Pass the folder that holds the official "
                f"files (directly or in its kmnist/ or k49/ subfolder), or leave {given} unset "
                "to use the download cache."
            )
        dirs += [root, root / folder] if folder else [root]
    dirs.append(cache_dir() / folder)
    return dirs


def locate(filename: str, data_dir: str | os.PathLike | None = None) -> Path | None:
    """Where the official file ``filename`` is found (see :func:`search_dirs`), or ``None``."""
    info = OFFICIAL_FILES[filename]
    for folder in search_dirs(data_dir, info.folder):
        if (folder / filename).is_file():
            return folder / filename
    return None


def ensure_file(
    filename: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    base_url_override: str | None = None,
) -> Path:
    """Path of a verified copy of the official file ``filename``, downloading it if allowed.

    Example::

        >>> ensure_file("kmnist-test-labels.npz", data_dir="../shared/data")
        PosixPath('../shared/data/kmnist/kmnist-test-labels.npz')
    """
    info = OFFICIAL_FILES[filename]
    path = locate(filename, data_dir)
    if path is not None:
        verify_file(path, info.md5, info.size)
        return path
    if not download:
        where = ", ".join(str(d) for d in search_dirs(data_dir, info.folder))
        raise DataError(
            f"{filename} not found (looked in {where}). Put the official file in one of these "
            "folders (or pass --data-dir DIR), or allow downloading."
        )
    url = f"{base_url(base_url_override)}/{info.folder}/{filename}"
    return download_file(url, cache_dir() / info.folder / filename, info.md5)


def fetch(
    name: str,
    parts: tuple[str, ...] = PARTS,
    data_dir: str | os.PathLike | None = None,
    base_url_override: str | None = None,
    extras: bool = False,
) -> list[Path]:
    """Make sure every file of dataset ``name`` is present and intact; return their paths.

    Example::

        >>> fetch("kmnist10k")  # downloads kmnist-test-{imgs,labels}.npz into the cache

    A derived set's files are its base set's.
    """
    spec = get_spec(DERIVED[name].base if name in DERIVED else name)
    names = list(dict.fromkeys(f for p in parts for f in spec.parts[p]))
    if extras:
        folders = {OFFICIAL_FILES[n].folder for n in names}
        names += [n for n, f in OFFICIAL_FILES.items() if f.optional and f.folder in folders]
    return [ensure_file(n, data_dir, True, base_url_override) for n in names]


@dataclass(frozen=True)
class FileStatus:
    """One official file as ``autocnn datasets`` shows it.

    ``dataset`` is the file's release ("kmnist" or "k49"); ``status`` is "ok", "mismatch",
    "not checked" or "missing"; ``used_by`` names the datasets that need the file (empty for
    the optional class maps).
    """

    dataset: str
    file: str
    status: str
    path: Path | None
    size: int | None
    expected_size: int
    optional: bool
    used_by: tuple[str, ...]


def dataset_status(
    data_dir: str | os.PathLike | None = None, verify: bool = True
) -> list[FileStatus]:
    """Where each official file is and whether it is intact; hashes only when ``verify``.

    Files already verified (same path, size and mtime) are not hashed again.

    Example::

        >>> [(s.file, s.status) for s in dataset_status("../shared/data")][:1]
        [('kmnist-train-imgs.npz', 'missing')]
    """
    rows = []
    for filename, info in OFFICIAL_FILES.items():
        used_by = tuple(
            n for n, spec in DATASETS.items() if any(filename in f for f in spec.parts.values())
        )
        path = locate(filename, data_dir)
        size = path.stat().st_size if path is not None else None
        if path is None:
            md5 = "missing"
        elif size != info.size:
            md5 = "mismatch"
        elif verify:
            md5 = check_file(path, info.md5, info.size)
        else:
            remembered = known_md5(path)
            md5 = (
                "not checked"
                if remembered is None
                else ("ok" if remembered == info.md5 else "mismatch")
            )
        rows.append(
            FileStatus(info.folder, filename, md5, path, size, info.size, info.optional, used_by)
        )
    return rows


@dataclass(frozen=True)
class DatasetRow:
    """One name ``autocnn datasets`` lists: what a user can pass as DATASET / ``--dataset``.

    ``kind`` is "official" (files of the release), "derived" (built in memory from a base set,
    see :mod:`autocnn.data.derived`) or "pattern" (``npz:PATH`` / ``idx:DIR`` / ``dir:DIR``, the
    user's own files; no sizes or status). ``status`` is "ok" when every file needed is present
    and intact (see :class:`FileStatus` for "not checked"), else says what is missing or wrong;
    ``files`` are the official files the name reads (with a release's optional class map).
    """

    name: str
    kind: str
    n_train: int | None
    n_test: int | None
    n_classes: int | None
    status: str
    description: str
    base: str | None = None
    files: tuple[FileStatus, ...] = ()


def _official_status(needed: list[FileStatus]) -> str:
    """ "ok", or the worst of "md5 mismatch", "N files missing", "not checked" (files named in
    the files' own status)."""
    for bad in ("mismatch", "missing", "not checked"):
        n = sum(f.status == bad for f in needed)
        if n and bad == "missing":
            return f"{n} of {len(needed)} files missing"
        if n:
            return "md5 mismatch" if bad == "mismatch" else bad
    return "ok"


def dataset_list(
    data_dir: str | os.PathLike | None = None, verify: bool = True
) -> list[DatasetRow]:
    """Every name :func:`autocnn.data.load` accepts, with sizes and whether its files are here.

    Official sets first (their files' status as :func:`dataset_status` gives it), then derived
    ones (their base's files; "needs kmnist-test files" when those are missing), then the
    ``npz:PATH`` / ``idx:DIR`` / ``dir:DIR`` patterns with the layout they expect.

    Example::

        >>> [(r.name, r.n_train, r.status) for r in dataset_list("../shared/data/kmnist")][2:4]
        [('kmnist10k', 8000, 'ok'), ('kmnist10k-source', 4000, 'ok')]
    """
    status = {s.file: s for s in dataset_status(data_dir, verify)}
    rows: dict[str, DatasetRow] = {}
    for name, spec in DATASETS.items():
        needed = list(dict.fromkeys(f for pair in spec.parts.values() for f in pair))
        folders = {OFFICIAL_FILES[f].folder for f in needed}
        extras = [f for f, i in OFFICIAL_FILES.items() if i.optional and i.folder in folders]
        rows[name] = DatasetRow(
            name, "official", spec.sizes.get("train"), spec.sizes.get("test"), spec.n_classes,
            _official_status([status[f] for f in needed]), spec.description, None,
            tuple(status[f] for f in [*needed, *extras]),
        )  # fmt: skip
    for name, derived in DERIVED.items():
        base = rows[derived.base]
        needed = [f for f in base.files if not f.optional]
        if base.status == "ok":
            state = "ok"
        elif any(f.status == "missing" for f in needed):
            missing = [f.file.rsplit("-", 1)[0] for f in needed if f.status == "missing"]
            state = f"needs {', '.join(dict.fromkeys(missing))} files"
        else:
            state = f"base {derived.base}: {base.status}"
        rows[name] = DatasetRow(
            name, "derived", derived.sizes.get("train"), derived.sizes.get("test"),
            derived.n_classes, state, derived.description, derived.base, tuple(needed),
        )  # fmt: skip
    for pattern, layout in USER_FORMAT_LAYOUTS.items():
        rows[pattern] = DatasetRow(pattern, "pattern", None, None, None, "", layout)
    return list(rows.values())
