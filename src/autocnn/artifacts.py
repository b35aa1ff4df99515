"""Writing results safely: atomic JSON files and output folders that never overwrite a result.

Every stage (train, optimize, evaluate, transfer, study, report) writes through these two, so a
killed process leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autocnn.errors import RunError


def write_json(path: str | Path, payload: Any) -> None:
    """Write JSON atomically (temp file + rename) so a killed process leaves no half file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def prepare_out_dir(out: str | Path, marker: str) -> Path:
    """Create ``out``; refuse to overwrite a folder that already holds a result (``marker``)."""
    out = Path(out)
    if (out / marker).exists():
        raise RunError(
            f"{out} already holds a result ({marker}); choose another --out folder "
            "or delete it first (nothing was overwritten)"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out
