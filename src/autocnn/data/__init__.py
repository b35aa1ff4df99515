"""Datasets as in-memory uint8 tensors: named sets (KMNIST, K49, kmnist10k), sets derived from
them in memory (kmnist10k-source, -dest-longtail, -1k, -x8) and users' own files.

The bottom of the pipeline (data -> space -> model -> train -> optimize): nothing here imports a
higher package. ``load`` reads a dataset part once per process; ``train_val_split`` and
``stratified_subset`` cut it reproducibly; ``dataset_list`` lists every name ``load`` takes
and ``dataset_status`` says which official files are where; ``synthetic`` writes learnable
stand-ins for tests.

Example::

    >>> from autocnn import data
    >>> train = data.load("kmnist10k", "train", data_dir="../shared/data")
    >>> fit, val = data.train_val_split(train, val_fraction=0.2, seed=0)
    >>> quarter = data.stratified_subset(fit, 0.25, seed=0)
"""

from __future__ import annotations

from autocnn.data.derived import DERIVED, DerivedSpec
from autocnn.data.files import cache_dir, md5_file, verify_file
from autocnn.data.imageset import ImageSet
from autocnn.data.loading import (
    HOLDOUT_FRACTION,
    HOLDOUT_PREFIX,
    clear_cache,
    has_test_part,
    image_size_from_headers,
    load,
)
from autocnn.data.registry import (
    DATASETS,
    OFFICIAL_FILES,
    DatasetRow,
    DatasetSpec,
    FileStatus,
    OfficialFile,
    dataset_list,
    dataset_status,
    fetch,
    known_names,
)
from autocnn.data.resize import RESIZE_PREFIX, parse_resize_name, scaled_shape
from autocnn.data.splits import (
    BalanceSummary,
    class_balance_summary,
    stratified_subset,
    train_val_split,
)
from autocnn.data.synthetic import (
    synthetic_imageset,
    write_idx,
    write_like,
    write_synthetic,
    write_tiny_kmnist,
)

__all__ = [
    "DATASETS",
    "DERIVED",
    "OFFICIAL_FILES",
    "BalanceSummary",
    "DatasetRow",
    "DatasetSpec",
    "DerivedSpec",
    "HOLDOUT_FRACTION",
    "HOLDOUT_PREFIX",
    "RESIZE_PREFIX",
    "FileStatus",
    "ImageSet",
    "OfficialFile",
    "cache_dir",
    "class_balance_summary",
    "clear_cache",
    "dataset_list",
    "dataset_status",
    "fetch",
    "has_test_part",
    "image_size_from_headers",
    "known_names",
    "load",
    "parse_resize_name",
    "scaled_shape",
    "md5_file",
    "stratified_subset",
    "synthetic_imageset",
    "train_val_split",
    "verify_file",
    "write_idx",
    "write_like",
    "write_synthetic",
    "write_tiny_kmnist",
]
