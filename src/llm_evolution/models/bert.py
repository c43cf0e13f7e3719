"""BERT, the bidirectional encoder of *BERT: Pre-training of Deep Bidirectional Transformers
for Language Understanding* (Devlin et al., 2018, arXiv:1810.04805).

BERT is the Transformer's encoder alone (chapter 3): every token attends to every other token,
left and right, so each output vector describes a word in its whole sentence. It differs from
that encoder in small ways: positions are a *learned* table instead of sinusoids, a third table
marks which segment (sentence A or B) a token belongs to, the feed-forward network uses GELU
instead of ReLU, and layer norms are post-LN with a tiny epsilon (1e-12). Its pretraining task
is the masked language model: hide some tokens and predict them from both sides.

It reuses chapter 3's :class:`~llm_evolution.attention.MultiHeadAttention`. Module names follow
the structure of Hugging Face's ``BertModel`` one to one, so that
:mod:`llm_evolution.interop.hf` can move real pretrained weights (a MiniLM) in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.attention import MultiHeadAttention
from llm_evolution.models.bigram import check_token_ids

IGNORE_INDEX = -100  # label of the positions the masked-LM loss skips (as in transformers)


# --8<-- [start:bert_config]
@dataclass(frozen=True)
class BertConfig:
    """The sizes that define a BERT. Defaults are a tiny model that trains on a laptop CPU;
    BERT-base is ``d_model=768, n_heads=12, n_layers=12, d_ff=3072``."""

    vocab_size: int = 1000
    max_position: int = 128      # longest sequence the learned position table covers
    type_vocab_size: int = 2     # segments: sentence A (0) and sentence B (1)
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    pad_id: int = 0              # its token vector gets no gradient (the padding row)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_position", "type_vocab_size", "d_model", "n_heads",
                     "n_layers", "d_ff"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; pick n_heads that divides d_model")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id={self.pad_id} must be a token id in "
                             f"[0, vocab_size={self.vocab_size})")
# --8<-- [end:bert_config]


def check_inputs(config: BertConfig, input_ids: torch.Tensor,
                 attention_mask: torch.Tensor | None,
                 token_type_ids: torch.Tensor | None) -> None:
    """Raise ValueError unless the ids, mask and segments fit the model and each other."""
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch, length), got "
                         f"{tuple(input_ids.shape)}")
    check_token_ids(input_ids, config.vocab_size, "input_ids")
    if input_ids.size(1) > config.max_position:
        raise ValueError(f"sequence of length {input_ids.size(1)} is longer than the position "
                         f"table (max_position={config.max_position}); truncate the input or "
                         "build the model with a larger max_position")
    if attention_mask is not None:
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"attention_mask must have the shape of input_ids "
                             f"{tuple(input_ids.shape)}, got {tuple(attention_mask.shape)}")
        if not ((attention_mask == 0) | (attention_mask == 1)).all():
            raise ValueError("attention_mask must hold only 1 (real token) and 0 (padding)")
        if (attention_mask == 0).all(dim=1).any():
            raise ValueError("attention_mask has a row of padding only: every sequence needs "
                             "at least one real token (its [CLS])")
    if token_type_ids is not None:
        if token_type_ids.shape != input_ids.shape:
            raise ValueError(f"token_type_ids must have the shape of input_ids "
                             f"{tuple(input_ids.shape)}, got {tuple(token_type_ids.shape)}")
        check_token_ids(token_type_ids, config.type_vocab_size, "token_type_ids")


# --8<-- [start:bert_embeddings]
class BertEmbeddings(nn.Module):
    """A token's input vector: what the token is + where it is + which segment it is in,
    then a layer norm. All three tables are learned."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.token = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        self.position = nn.Embedding(config.max_position, config.d_model)
        self.segment = nn.Embedding(config.type_vocab_size, config.d_model)
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device)
        x = self.token(input_ids) + self.position(positions) + self.segment(token_type_ids)
        return self.dropout(self.norm(x))
# --8<-- [end:bert_embeddings]


# --8<-- [start:bert_layer]
class BertFeedForward(nn.Module):
    """Widen, GELU, narrow: chapter 3's feed-forward network with GELU instead of ReLU.

    GELU (x times the normal CDF of x) is a smooth ReLU: small negative inputs leak through a
    little instead of being cut to 0. This is the exact (erf) version BERT uses.
    """

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class BertLayer(nn.Module):
    """One encoder layer, post-LN as in chapter 3: x = norm(x + attention(x)), then
    x = norm(x + feed_forward(x))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads, config.dropout)
        self.norm1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.feed_forward = BertFeedForward(config.d_model, config.d_ff)
        self.norm2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))
# --8<-- [end:bert_layer]


# --8<-- [start:bert_model]
class Bert(nn.Module):
    """Token ids in, one vector per token out: (batch, length) -> (batch, length, d_model).

    ``attention_mask`` (batch, length) holds 1 for real tokens and 0 for padding, which no
    token attends to; ``token_type_ids`` (batch, length) holds each token's segment (0 if
    omitted). :meth:`pool` turns the [CLS] vector into one vector for the whole sequence.
    """

    def __init__(self, config: BertConfig, add_pooler: bool = True):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.n_layers))
        # The pooler: a dense layer + tanh on the first token, trained by BERT's second
        # pretraining task (is sentence B the one that follows A?). A masked LM has none.
        self.pooler = nn.Linear(config.d_model, config.d_model) if add_pooler else None
        self.apply(init_weights)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        check_inputs(self.config, input_ids, attention_mask, token_type_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        # (batch, 1, 1, length), True = may attend: the same padded keys are hidden from every
        # head and every query. Padded positions still get (meaningless) output vectors.
        mask = None if attention_mask is None else attention_mask.bool()[:, None, None, :]
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """(batch, d_model): tanh(dense(vector of the first token, [CLS]))."""
        if self.pooler is None:
            raise ValueError("this Bert was built with add_pooler=False and has no pooler")
        return torch.tanh(self.pooler(hidden[:, 0]))
# --8<-- [end:bert_model]


# --8<-- [start:masked_lm]
class MaskedLMHead(nn.Module):
    """Scores for every vocabulary token at every position: dense + GELU + layer norm, then
    a dot product with each token's *input* embedding (tied weights) plus a per-token bias."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor, token_embeddings: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.gelu(self.dense(hidden)))
        return h @ token_embeddings.T + self.bias  # (batch, length, vocab)


class BertForMaskedLM(nn.Module):
    """BERT with its masked-LM head: ``model(input_ids, labels) -> (logits, loss)``.

    ``labels`` holds the original token where the input was hidden and ``IGNORE_INDEX`` (-100)
    everywhere else, so the loss is the cross-entropy on the hidden tokens only. Without labels
    the logits cover every position, (batch, length, vocab); with labels only the hidden
    positions are scored, (n_hidden, vocab), since the others do not count: about 7 times less
    work in the largest matrix product of pretraining.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = Bert(config, add_pooler=False)
        self.head = MaskedLMHead(config)
        self.head.apply(init_weights)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None):
        if labels is not None and labels.shape != input_ids.shape:
            raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)},"
                             f" got {tuple(labels.shape)}")
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        token_embeddings = self.bert.embeddings.token.weight
        if labels is None:
            return self.head(hidden, token_embeddings), None
        scored = labels != IGNORE_INDEX
        if not scored.any():
            raise ValueError(f"labels hide no token: every label is IGNORE_INDEX="
                             f"{IGNORE_INDEX}; put the original token where the input is masked")
        logits = self.head(hidden[scored], token_embeddings)  # (n_hidden, vocab)
        return logits, F.cross_entropy(logits, labels[scored])
# --8<-- [end:masked_lm]


# --8<-- [start:mean_pool]
def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, length, d) token vectors -> (batch, d): the mean over the real tokens only.

    Padding positions have output vectors too (meaningless ones), so they are left out of the
    sum and of the count.
    """
    if hidden.dim() != 3:
        raise ValueError(f"hidden must have shape (batch, length, d), got {tuple(hidden.shape)}")
    if attention_mask.shape != hidden.shape[:2]:
        raise ValueError(f"attention_mask must have shape (batch, length) = "
                         f"{tuple(hidden.shape[:2])}, got {tuple(attention_mask.shape)}")
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (batch, length, 1)
    counts = weights.sum(dim=1)
    if (counts == 0).any():
        raise ValueError("attention_mask has a row of padding only: every sentence needs at "
                         "least one real token")
    return (hidden * weights).sum(dim=1) / counts
# --8<-- [end:mean_pool]


# --8<-- [start:classifier]
class BertForSequenceClassification(nn.Module):
    """BERT with a classifier on top:
    ``model(input_ids, labels, attention_mask) -> (logits (batch, n_classes), loss)``.

    ``pooling="cls"`` is the paper's: the [CLS] vector through the pooler (dense + tanh), as in
    ``transformers``' ``BertForSequenceClassification``. ``pooling="mean"`` averages the
    vectors of the real tokens instead (Sentence-BERT's choice), which needs no pretrained
    pooler. Then dropout and one linear layer; everything is trained together.
    """

    def __init__(self, config: BertConfig, n_classes: int, pooling: str = "cls"):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes} must be >= 2")
        if pooling not in ("cls", "mean"):
            raise ValueError(f"pooling={pooling!r} must be 'cls' or 'mean'")
        self.config = config
        self.pooling = pooling
        self.bert = Bert(config, add_pooler=pooling == "cls")
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, n_classes)
        self.classifier.apply(init_weights)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        if self.pooling == "cls":
            pooled = self.bert.pool(hidden)
        else:
            pooled = mean_pool(hidden, torch.ones_like(input_ids) if attention_mask is None
                               else attention_mask)
        logits = self.classifier(self.dropout(pooled))
        if labels is None:
            return logits, None
        if labels.shape != input_ids.shape[:1]:
            raise ValueError(f"labels must hold one class per row, shape "
                             f"({input_ids.size(0)},), got {tuple(labels.shape)}")
        return logits, F.cross_entropy(logits, labels)
# --8<-- [end:classifier]


def init_weights(module: nn.Module) -> None:
    """BERT's initialisation: weights N(0, 0.02), biases 0, layer norms the identity."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
