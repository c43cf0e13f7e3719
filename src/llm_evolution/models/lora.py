"""LoRA: fine-tuning through low-rank adapters (Hu et al., 2021, arXiv:2106.09685).

A pretrained weight ``W`` stays frozen; beside it, two small matrices ``A`` (rank x in) and
``B`` (out x rank) learn the change, so a layer computes ``W x + b + (alpha / rank) B A x``.
``B`` starts at zero, so training starts from the pretrained model exactly; after training,
``B A`` is added into ``W`` (:func:`merge_lora`) and the model is as fast as before.
Initialisation and scaling follow the paper and Hugging Face's ``peft``, whose ``LoraConfig``
a test checks this against with the same weights.

For new tokens added to a pretrained vocabulary (chapter 10's chat tokens), :func:`train_new_rows`
makes only those rows of the token embedding trainable, through a parametrization, so that the
embedding lookup and the output head tied to it both see the trained rows.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

LORA_TARGETS = ("qkv", "out_proj", "up", "down")  # every Linear of a GPT block


# --8<-- [start:lora_linear]
class LoRALinear(nn.Module):
    """``base`` (a frozen ``nn.Linear``) plus a trainable low-rank update ``(alpha/rank) B A``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        if rank < 1 or rank > min(base.in_features, base.out_features):
            raise ValueError(f"rank={rank} must be between 1 and min(in_features, out_features)="
                             f"{min(base.in_features, base.out_features)}")
        self.base = base.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))  # no change at first
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear and peft do

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # h = W x + b + (alpha / r) B (A x): two thin products instead of one full update.
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function: W + (alpha/r) B A, same bias."""
        linear = nn.Linear(self.base.in_features, self.base.out_features,
                           bias=self.base.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
            if self.base.bias is not None:
                linear.bias.copy_(self.base.bias)
        return linear
# --8<-- [end:lora_linear]


# --8<-- [start:add_lora]
def add_lora(model: nn.Module, rank: int, alpha: float,
             targets: tuple[str, ...] = LORA_TARGETS) -> nn.Module:
    """Freeze every parameter of ``model`` and wrap each ``nn.Linear`` whose name ends in one
    of ``targets`` in a :class:`LoRALinear`, in place. Returns ``model``."""
    model.requires_grad_(False)
    replaced = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, nn.Linear):
                setattr(module, child_name, LoRALinear(child, rank, alpha))
                replaced += 1
    if replaced == 0:
        raise ValueError(f"no nn.Linear named one of targets={targets} in the model; "
                         f"name the layers to adapt")
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` in ``model`` by its merged ``nn.Linear``, in place."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, LoRALinear):
                setattr(module, child_name, child.merged())
    return model
# --8<-- [end:add_lora]


# --8<-- [start:new_rows]
class AppendRows(nn.Module):
    """A parametrization: the frozen first rows of a matrix, then ``rows`` (trainable)."""

    def __init__(self, rows: torch.Tensor):
        super().__init__()
        self.rows = nn.Parameter(rows.detach().clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return torch.cat([weight[: -len(self.rows)], self.rows])


def train_new_rows(embedding: nn.Embedding, n_new: int) -> None:
    """Make only the last ``n_new`` rows of ``embedding`` trainable: the rest stay frozen."""
    if not 1 <= n_new < embedding.num_embeddings:
        raise ValueError(f"n_new={n_new} must be between 1 and num_embeddings - 1="
                         f"{embedding.num_embeddings - 1}")
    embedding.weight.requires_grad_(False)
    parametrize.register_parametrization(embedding, "weight",
                                         AppendRows(embedding.weight[-n_new:]))


def fold_new_rows(embedding: nn.Embedding) -> None:
    """Write the trained rows into the embedding's own weight and remove the parametrization."""
    parametrize.remove_parametrizations(embedding, "weight", leave_parametrized=True)
# --8<-- [end:new_rows]
