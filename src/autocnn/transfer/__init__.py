"""Transfer what was learned on a source dataset to a destination dataset.

- Weight transfer (:mod:`autocnn.transfer.weights`): the source network with a new head, all
  other weights and BatchNorm statistics copied, fine-tuned with optional freezing and a lower
  learning rate for the copied layers.
- Configuration transfer (:mod:`autocnn.transfer.config`, :mod:`autocnn.transfer.search`): BOHB
  on a reduced space around the source incumbent (widths, FC layers, batch size and learning
  rate searched; everything else fixed), optionally starting from the source's weights.

Example::

    from autocnn.transfer import reduce_space, transfer_config
    summary = transfer_config("runs/kmnist", "k49", out="runs/k49-config", iterations=2)
"""

from __future__ import annotations

from autocnn.model.weights import partial_state
from autocnn.transfer.config import (
    ReducedSpace,
    default_searched,
    merge_config,
    reduce_space,
    run_incumbent,
    source_config,
)
from autocnn.transfer.search import TransferObjective, transfer_config
from autocnn.transfer.weight_transfer import transfer_weights
from autocnn.transfer.weights import (
    FineTune,
    SourceModel,
    finetune,
    load_source,
    source_checkpoint,
    transfer_state,
    transferred_model,
)

__all__ = [
    "FineTune",
    "ReducedSpace",
    "SourceModel",
    "TransferObjective",
    "default_searched",
    "finetune",
    "load_source",
    "merge_config",
    "partial_state",
    "reduce_space",
    "run_incumbent",
    "source_checkpoint",
    "source_config",
    "transfer_config",
    "transfer_state",
    "transfer_weights",
    "transferred_model",
]
