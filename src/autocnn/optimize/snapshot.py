"""Optimizer snapshots: an optimizer's whole state as JSON data, so a resume need not replay
every ask of a long run.

A resumed run must reach exactly the state the killed one had. Replaying the stored ask/tell log
into a fresh optimizer does that, but every replayed ask samples from the model again (~45 s at
10,000 evaluations, ~8 min at 100,000). So the runner also stores the optimizer's
:meth:`Snapshottable.state` in the run store every few hundred events (``snapshots`` table, keyed
by the last event it includes), and a resume loads the newest one and replays only the events
after it, still checking every replayed ask against the log (:mod:`autocnn.optimize.replay`). A
snapshot that cannot be used (corrupt, another format, made by a differently built optimizer) is
skipped with a warning: the next older one, or the full replay, takes its place, never a wrong
state.

A state is data, never code (no pickle): :func:`encode` turns the values an optimizer holds
(numbers, ``inf``, strings, lists, tuples, dicts with any plain keys, numpy arrays, numpy random
generators) into JSON values, tagged where JSON has no type of its own; :func:`decode` turns them
back, bit for bit. An optimizer lists the attributes it saves by name (``BOHB._STATE_FIELDS``), so
one more (say, a new sampler's random generator) is one more name.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> state = encode({"rng": rng, "losses": {1.0: float("inf")}, "x": np.arange(3.0)})
    >>> copy = decode(json.loads(json.dumps(state)))
    >>> copy["rng"].random() == rng.random(), copy["losses"], copy["x"].tolist()
    (True, {1.0: inf}, [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from autocnn.errors import RunError

# Snapshots kept in a run store: the newest, and one older in case the newest cannot be used.
SNAPSHOTS_KEPT = 2

_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
}
_DTYPES = {"<f8", "<f4", "<i8", "<i4", "<u8", "<u4", "|b1", "|u1"}


class SnapshotError(RunError):
    """A stored optimizer state that cannot be loaded (corrupt, another format or version, or
    made by an optimizer built differently); the runner falls back to replaying the log."""


@runtime_checkable
class Snapshottable(Protocol):
    """An :class:`~autocnn.optimize.protocol.Optimizer` whose state can be saved and loaded.

    ``load_state(state())`` on a freshly built optimizer (same settings, same search space) must
    give one that behaves exactly like the original from then on: the same asks for the same
    tells. ``load_state`` raises :class:`SnapshotError` and leaves the optimizer untouched when
    the state does not fit it.
    """

    def state(self) -> dict[str, Any]:
        """Everything the optimizer's future depends on, as JSON values."""
        ...

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Become the optimizer ``state`` was taken from."""
        ...


def digest(value: Any) -> str:
    """A short fingerprint of a JSON-able value (settings, a space's names), to tell a state
    made by a differently built optimizer."""
    text = json.dumps(value, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(value: Any) -> Any:
    """``value`` as JSON values; :func:`decode` inverts it exactly (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        if array.dtype.str not in _DTYPES:
            raise TypeError(f"cannot snapshot an array of {value.dtype}")
        data = base64.b64encode(zlib.compress(array.tobytes(), 1)).decode("ascii")
        return {"array": [array.dtype.str, list(array.shape), data]}
    if isinstance(value, np.random.Generator):
        return {"generator": encode(value.bit_generator.state)}
    if isinstance(value, np.random.RandomState):
        return {"random_state": encode(value.get_state(legacy=False))}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(v) for v in sorted(value)]}
    if isinstance(value, Mapping):
        return {"map": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def decode(value: Any) -> Any:
    """The value :func:`encode` was given. SnapshotError on anything it cannot have written."""
    try:
        return _decode(value)
    except SnapshotError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, zlib.error) as error:
        raise SnapshotError(f"not an encoded state ({type(error).__name__}: {error})") from error


def _decode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise SnapshotError(f"not an encoded state: {str(value)[:80]}")
    ((tag, body),) = value.items()
    if tag == "float":
        if body not in ("inf", "-inf", "nan"):
            raise SnapshotError(f"not an encoded float: {body!r}")
        return float(body)
    if tag == "array":
        dtype, shape, data = body
        if dtype not in _DTYPES:
            raise SnapshotError(f"arrays of {dtype} are not part of a state")
        raw = zlib.decompress(base64.b64decode(data, validate=True))
        array = np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape)
        return array.astype(array.dtype.newbyteorder("="))  # a writable copy
    if tag == "generator":
        state = _decode(body)
        generator = np.random.Generator(_BIT_GENERATORS[state["bit_generator"]]())
        generator.bit_generator.state = state
        return generator
    if tag == "random_state":
        state = _decode(body)
        random_state = np.random.RandomState(_BIT_GENERATORS[state["bit_generator"]]())
        random_state.set_state(state)
        return random_state
    if tag == "tuple":
        return tuple(_decode(v) for v in body)
    if tag == "set":
        return {_decode(v) for v in body}
    if tag == "map":
        return {_decode(k): _decode(v) for k, v in body}
    raise SnapshotError(f"unknown tag {tag!r} in a state")


def save_fields(owner: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """``{name: encode(owner.name)}`` for each name."""
    return {name: encode(getattr(owner, name)) for name in names}


def load_fields(state: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The decoded values of ``names`` in ``state`` (from :func:`save_fields`); SnapshotError
    names a missing one. Assign them with :func:`assign` once everything else is decoded."""
    missing = [name for name in names if name not in state]
    if missing:
        raise SnapshotError(f"the state has no {', '.join(missing)}")
    return {name: decode(state[name]) for name in names}


def assign(owner: Any, values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        setattr(owner, name, value)


def check_header(state: Mapping[str, Any], kind: str, version: int, **fingerprints: str) -> None:
    """SnapshotError unless ``state`` was made by a ``kind`` of this ``version`` with these
    fingerprints (settings, space: :func:`digest`)."""
    if not isinstance(state, Mapping):
        raise SnapshotError(f"a state is a JSON object, not {type(state).__name__}")
    if state.get("kind") != kind or state.get("version") != version:
        raise SnapshotError(
            f"the state is {state.get('kind')!r} version {state.get('version')!r}, this autocnn "
            f"reads {kind!r} version {version}"
        )
    for name, value in fingerprints.items():
        if state.get(name) != value:
            raise SnapshotError(f"the state was made by an optimizer with another {name}")
