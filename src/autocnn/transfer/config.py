"""Configuration transfer: search a reduced space around a source incumbent on a new dataset.

The reduced space keeps the source's architecture type (number of conv layers / stages, kernel
sizes, pooling, activation, optimizer, ...) and searches only what most likely has to change
for a new dataset: the widths (``*_channels``, ``*_channel_multiplier``), the number and width
of the FC layers (``n_fc_layers``, ``*_units``), ``batch_size``, the learning rate
(``learning_rate``, or ``sgd_learning_rate`` for the extended space's SGD) and the
class-imbalance handling (``imbalance`` and its ``imbalance_beta`` / ``imbalance_tau``; fixed to
the source's when the destination is known to be balanced), plus any hyperparameter the user
names. The imbalance handling is searched because it belongs to the destination's class
distribution, not to the source's architecture: the source (balanced KMNIST, say) had no reason
to pick it, and on a long-tailed destination it changes balanced accuracy most where the fixed
architecture cannot; for the same reason the search starts from the destination's default
handling (:func:`autocnn.space.imbalance.default_method`), not from the source's
(``--no-imbalance``: fixed to none). It is a ConfigSpace with only the searched hyperparameters; a
merge step (:meth:`ReducedSpace.merge`) fills in the rest and validates the result in the FULL
space, so every config the optimizer proposes is a valid full config by construction:

- a searched hyperparameter keeps its full-space range; its default is the source's value, so
  the reduced space's default merges back to the source config exactly;
- conditions between searched hyperparameters are kept (``fc2_units`` needs
  ``n_fc_layers > 1``); a condition on a fixed parent is decided once: always true (dropped),
  never true (the hyperparameter cannot be active: it is not searched), or undecided (it is
  searched unconditionally and the merge drops it when the full space says it is inactive);
- a fixed hyperparameter takes the source's value; one the source does not use (an FC layer the
  search may add) takes the value of the nearest lower layer of the same kind in the source
  (``fc2_dropout`` from ``fc1_dropout``), else the full space's default.

Example::

    reduced = reduce_space(incumbent, "seed")
    reduced.merge(reduced.space.get_default_configuration()) == incumbent   # True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace
from ConfigSpace.conditions import Conjunction

from autocnn import space
from autocnn.data.splits import class_balance_summary
from autocnn.errors import ConfigError, RunError

# Reading a run folder is the final evaluation's too (one stage earlier): defined there,
# re-exported here.
from autocnn.final.sources import condition_holds as _satisfied
from autocnn.final.sources import merge_config, run_incumbent
from autocnn.space.imbalance import IMBALANCE_KEYS, with_imbalance

_LAYER = re.compile(r"^(conv|fc|stage)(\d+)_(.+)$")


def default_searched(
    names: Iterable[str], imbalanced: bool = True, architecture: bool = True
) -> list[str]:
    """The hyperparameters searched by default: widths, FC layers, batch size, learning rate,
    and (unless the destination is balanced) the class-imbalance handling.

    ``architecture=False`` (a search whose trials start from the source's weights): the widths
    and FC layers stay the source's, the only shapes its weights fit (a changed width would
    start that layer afresh), and weight decay is searched instead: what remains to choose is
    how to fine-tune.

    >>> default_searched(["conv1_channels", "n_fc_layers", "batch_size", "weight_decay"])
    ['conv1_channels', 'n_fc_layers', 'batch_size']
    >>> default_searched(["conv1_channels", "n_fc_layers", "batch_size", "weight_decay"],
    ...                  architecture=False)
    ['batch_size', 'weight_decay']
    """
    training = ("batch_size", "learning_rate", "sgd_learning_rate")
    training += ("n_fc_layers",) if architecture else ("weight_decay",)
    if imbalanced:
        training += IMBALANCE_KEYS
    widths = ("_channels", "_channel_multiplier", "_units") if architecture else ()
    return [n for n in names if (widths and n.endswith(widths)) or n in training]


def is_imbalanced(class_counts: Sequence[int] | None) -> bool:
    """Whether a destination with these training counts needs imbalance handling searched
    (unknown counts: yes; searching it costs little where every method equals "none")."""
    if class_counts is None:
        return True
    return not class_balance_summary(list(class_counts)).is_balanced


@dataclass(frozen=True)
class ReducedSpace:
    """A reduced search space plus what is needed to turn its configs into full configs.

    ``anchor`` holds a value for EVERY hyperparameter of the full space (source, sibling or
    default; see the module docstring); ``searched`` are the names in ``space``.
    """

    space: ConfigurationSpace
    space_name: str
    searched: tuple[str, ...]
    anchor: dict[str, Any] = field(repr=False)
    dropped: tuple[str, ...] = ()  # asked for, but never active with the fixed values

    @property
    def fixed(self) -> dict[str, Any]:
        return {k: v for k, v in self.anchor.items() if k not in self.searched}

    def merge(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A full, validated config: searched values from ``values``, the rest fixed."""
        return merge_config(values, self.space_name, self.anchor, self.searched)


def _parents(condition: Any) -> list[str]:
    if isinstance(condition, Conjunction):
        return [p.name for p in condition.get_parents()]
    return [condition.parent.name]


def anchor_values(source: Mapping[str, Any], full: ConfigurationSpace) -> dict[str, Any]:
    """A value for every hyperparameter: the source's, a lower sibling layer's, or the default."""
    defaults = space.to_plain(full.get_default_configuration())
    anchor: dict[str, Any] = {}
    for name, hp in full.items():
        if name in source:
            anchor[name] = source[name]
            continue
        value = defaults.get(name, getattr(hp, "default_value", None))
        match = _LAYER.match(name)
        if match:
            kind, index, rest = match.group(1), int(match.group(2)), match.group(3)
            for lower in range(index - 1, 0, -1):
                sibling = f"{kind}{lower}_{rest}"
                if sibling in source:
                    value = source[sibling]
                    break
        anchor[name] = space.to_plain({name: value})[name]
    return anchor


def reduce_space(
    source: Mapping[str, Any],
    space_name: str,
    search: Iterable[str] | None = None,
    seed: int | None = None,
    dest_class_counts: Sequence[int] | None = None,
    imbalance: bool = True,
    imbalance_start: str | None = None,
    architecture: bool = True,
) -> ReducedSpace:
    """The reduced space around ``source`` (a config of space ``space_name``).

    ``search``: extra hyperparameter names searched besides the defaults
    (:func:`default_searched`); ``dest_class_counts``: the destination's training images per
    class (balanced: the imbalance handling stays the source's); ``imbalance=False``
    (``--no-imbalance``): the imbalance handling fixed to ``"none"`` whatever the source had;
    ``imbalance_start``: where a searched imbalance handling starts (the reduced default; its
    parameter at the full space's default) instead of the source's value; ``architecture=False``:
    widths and FC layers fixed to the source's (:func:`default_searched`; ``search`` may still
    name them). ConfigError for an unknown name or an invalid source config.
    """
    full = space.get_space(space_name)
    source = space.validate_config(source, full)
    extra = [s.strip() for s in (search or []) if s.strip()]
    unknown = sorted(set(extra) - set(full))
    if unknown:
        raise ConfigError(
            f"--search names {unknown}, which space {space_name!r} does not have; known: "
            f"{', '.join(sorted(full))}"
        )
    searched_imbalance = imbalance and is_imbalanced(dest_class_counts)
    wanted = set(default_searched(full, searched_imbalance, architecture)) | set(extra)
    anchor = anchor_values(source, full)
    if not imbalance:
        anchor["imbalance"] = "none"  # its beta / tau children are then inactive: dropped
        wanted -= set(IMBALANCE_KEYS)
    elif searched_imbalance and imbalance_start is not None:
        anchor.update(with_imbalance({}, imbalance_start))

    status: dict[str, str] = {}  # "always" | "maybe" | "never" active
    for name in full:
        states = []
        for condition in full.parent_conditions_of[name]:
            parents = _parents(condition)
            if any(status[p] == "never" for p in parents):
                states.append("never")
            elif all(p not in wanted and status[p] == "always" for p in parents):
                fixed = {p: anchor[p] for p in parents}
                states.append("always" if _satisfied(condition, fixed) else "never")
            else:
                states.append("maybe")
        status[name] = "never" if "never" in states else "maybe" if "maybe" in states else "always"
    searched = [n for n in full if n in wanted and status[n] != "never"]
    dropped = [n for n in extra if status[n] == "never"]
    if dropped:
        raise ConfigError(
            f"--search {', '.join(dropped)}: never active with the source's fixed values (e.g. "
            "momentum needs optimizer sgd); search their parent hyperparameters too"
        )

    serial = full.to_serialized_dict()
    hps = []
    for entry in serial["hyperparameters"]:
        if entry["name"] in searched:
            entry = dict(entry)
            entry["default_value"] = anchor[entry["name"]]
            hps.append(entry)
    conditions = [
        c
        for c in serial["conditions"]
        if c.get("child") in searched and c.get("parent") in searched
    ]
    reduced = ConfigurationSpace.from_serialized_dict(
        {
            **serial,
            "name": f"{space_name}-reduced",
            "hyperparameters": hps,
            "conditions": conditions,
            "forbiddens": [],
        }
    )
    if seed is not None:
        reduced.seed(seed)
    return ReducedSpace(reduced, space_name, tuple(searched), anchor, tuple(dropped))


# ----------------------------------------------------------------------------- source runs


def source_config(source: str | Path) -> tuple[dict[str, Any], str]:
    """``(config, space name)`` named by ``--from``: a run folder, an evaluate/train folder
    (``metrics.json`` / ``config.json``), or a config JSON file."""
    import json

    path = Path(source)
    if (path / "run.db").is_file():
        config, run, _ = run_incumbent(path)
        return config, run["space"]
    file = path
    if path.is_dir():
        file = path / "metrics.json" if (path / "metrics.json").is_file() else path / "config.json"
    try:
        payload = json.loads(file.read_text())
    except FileNotFoundError:
        raise RunError(
            f"{source}: not a run folder, evaluate folder or config file; pass one of them"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{file} is not readable JSON: {error}") from None
    if isinstance(payload, dict) and isinstance(payload.get("config"), dict):
        space_name = payload.get("space") or _space_of(payload["config"])
        payload = payload["config"]
    elif isinstance(payload, dict):
        space_name = _space_of(payload)
    else:
        raise ConfigError(f"{file} must hold a JSON object (a config)")
    return space.validate_config(payload, space.get_space(space_name)), space_name


def _space_of(config: Mapping[str, Any]) -> str:
    return "extended" if "n_stages" in config else "seed"
