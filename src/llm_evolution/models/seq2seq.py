"""What every sequence-to-sequence model here shares: the special token ids and the loss.

The RNN (chapter 2) and the Transformer (chapter 3) translators read and write padded id
sequences whose first three ids are padding, begin and end of sequence, and score a target by
the cross-entropy of its real tokens only. :mod:`llm_evolution.translation` builds its
vocabularies and batches on the same ids.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


# --8<-- [start:loss]
def sequence_loss(logits: torch.Tensor, target_out: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real (non-padding) target tokens."""
    if logits.shape[:2] != target_out.shape:
        raise ValueError(f"logits of shape {tuple(logits.shape)} do not match targets of "
                         f"shape {tuple(target_out.shape)} in (batch, length)")
    return F.cross_entropy(logits.flatten(0, 1), target_out.flatten(), ignore_index=PAD)
# --8<-- [end:loss]
