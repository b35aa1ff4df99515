"""Class-imbalance handling: how the training loss and the data order treat rare classes.

Four methods, chosen by the config key ``imbalance`` (both spaces search it):

- ``"none"``: plain cross-entropy on the natural class frequencies (the 2019 study's training).
- ``"weighted_loss"``: cross-entropy with class weights ``w_c = n_c ** -beta`` (``imbalance_beta``
  in (0, 1]; 1 is inverse frequency, 0.5 its square root), normalised to a mean of 1 per
  training image. PyTorch's weighted mean divides by the batch's summed weights.
- ``"balanced_sampling"``: each epoch draws ``len(train_set)`` indices with replacement, every
  class equally likely (class-aware sampling); the draw is a pure function of (seed, epoch), so
  continuing a checkpoint stays exact. The loss is plain cross-entropy.
- ``"logit_adjustment"``: the logit-adjusted loss of Menon et al., "Long-tail learning via logit
  adjustment" (ICLR 2021, eq. 10): cross-entropy of ``logits + tau * log(prior)`` with the
  training set's class prior (``imbalance_tau``, 1 in the paper). Only the training loss is
  adjusted; predictions stay the plain argmax of the logits, which the adjusted loss makes
  approximately balanced-error optimal.

A class without training images gets weight 0 / is never drawn / has its prior clamped to one
image (so its log-prior stays finite).

Example::

    terms = ImbalanceTerms.build(ImbalanceSettings("weighted_loss", beta=1.0), [300, 100], "cpu")
    loss = terms.loss(logits, labels, label_smoothing=0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autocnn.space.imbalance import IMBALANCE_METHODS

NONE, WEIGHTED, BALANCED, LOGIT_ADJUSTED = IMBALANCE_METHODS


@dataclass(frozen=True)
class ImbalanceSettings:
    """The imbalance method of a config and its one parameter (beta or tau)."""

    method: str = NONE
    beta: float = 1.0  # weighted_loss: w_c = n_c ** -beta
    tau: float = 1.0  # logit_adjustment: logits + tau * log(prior)

    def to_dict(self) -> dict[str, Any]:
        """The method and the parameter it uses (plain Python, for the training record)."""
        payload: dict[str, Any] = {"method": self.method}
        if self.method == WEIGHTED:
            payload["beta"] = self.beta
        elif self.method == LOGIT_ADJUSTED:
            payload["tau"] = self.tau
        return payload


def class_weights(counts: Any, beta: float) -> torch.Tensor:
    """``n_c ** -beta`` normalised to a mean weight of 1 per image; 0 for an empty class.

    Example:
        >>> [round(w, 4) for w in class_weights([300, 100], beta=1.0).tolist()]
        [0.6667, 2.0]
    """
    n = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    weights = torch.where(n > 0, n.clamp_min(1.0) ** -beta, torch.zeros_like(n))
    scale = n.sum() / (weights * n).sum() if (weights * n).sum() > 0 else 1.0
    return (weights * scale).to(torch.float32)


def log_prior(counts: Any) -> torch.Tensor:
    """``log(n_c / N)`` with empty classes counted as one image (finite for every class)."""
    n = torch.as_tensor(np.asarray(counts), dtype=torch.float64).clamp_min(1.0)
    return (n / n.sum()).log().to(torch.float32)


def balanced_order(
    labels: torch.Tensor, n_classes: int, generator: torch.Generator
) -> torch.Tensor:
    """``len(labels)`` indices drawn with replacement, each present class equally likely."""
    counts = torch.bincount(labels.cpu(), minlength=n_classes).to(torch.float64)
    per_image = (1.0 / counts.clamp_min(1.0))[labels.cpu()]
    return torch.multinomial(per_image, len(labels), replacement=True, generator=generator)


@dataclass
class ImbalanceTerms:
    """The device tensors one run's loss needs: class weights or logit offsets (or neither)."""

    settings: ImbalanceSettings
    weight: torch.Tensor | None = None
    logit_offset: torch.Tensor | None = None

    @classmethod
    def build(
        cls, settings: ImbalanceSettings, counts: Any, device: str | torch.device
    ) -> ImbalanceTerms:
        terms = cls(settings)
        if settings.method == WEIGHTED:
            terms.weight = class_weights(counts, settings.beta).to(device)
        elif settings.method == LOGIT_ADJUSTED:
            terms.logit_offset = (settings.tau * log_prior(counts)).to(device)
        return terms

    @property
    def balanced_sampling(self) -> bool:
        return self.settings.method == BALANCED

    def loss(
        self, logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float
    ) -> torch.Tensor:
        """The training loss of a batch (float32 logits); evaluation uses plain cross-entropy."""
        if self.logit_offset is not None:
            logits = logits + self.logit_offset
        return F.cross_entropy(logits, labels, weight=self.weight, label_smoothing=label_smoothing)
