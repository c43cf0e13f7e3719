"""A GRU encoder-decoder for translation, with or without additive (Bahdanau) attention.

The model of machine translation before the Transformer. An *encoder* RNN reads the source one
token at a time; a *decoder* RNN writes the target one token at a time. Both models here share
every layer but one choice, what the decoder sees of the source at each step:

* ``attention=False`` (Cho et al. 2014, arXiv:1406.1078; Sutskever, Vinyals and Le 2014,
  arXiv:1409.3215): one fixed-size summary vector of the whole source, the same at every step;
* ``attention=True`` (Bahdanau, Cho and Bengio 2014, arXiv:1409.0473): a weighted average of
  the encoder's states at every source position, with new weights at every output step.

Contract (see :mod:`llm_evolution.translation`): ``model(source, target_in, target_out)`` returns
``(logits, loss)``, and ``model.generate(source, max_new_tokens)`` decodes greedily.
"""

from __future__ import annotations

import torch
from torch import nn

from llm_evolution.models.bigram import check_token_ids
from llm_evolution.models.seq2seq import BOS, EOS, PAD, SPECIALS, sequence_loss


# --8<-- [start:encoder]
def reverse_real_tokens(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` positions of each row b of ``x`` (batch, time, ...),
    leaving the padding after them in place: "a b c <pad>" becomes "c b a <pad>"."""
    positions = torch.arange(x.size(1), device=x.device)[None, :]
    index = torch.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    return x.gather(1, index[:, :, None].expand_as(x))


class Encoder(nn.Module):
    """A bidirectional GRU over the source: one state per source token, and a summary.

    The state at position j joins a forward GRU (which has read tokens 1..j) and a backward
    GRU (which has read tokens j..n), so it describes token j in the context of the whole
    source. The summary joins the last state of each direction: the whole source in one vector.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.forward_gru = nn.GRU(embed_size, hidden_size, batch_first=True)
        self.backward_gru = nn.GRU(embed_size, hidden_size, batch_first=True)

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, source_len) ids, padded at the end -> states (batch, source_len,
        2 * hidden) and summary (batch, 2 * hidden)."""
        lengths = (source != PAD).sum(dim=1)
        embedded = self.embed(source)
        # Left to right: padding comes after the real tokens, so it cannot change their states.
        forward_states, _ = self.forward_gru(embedded)
        # Right to left: reverse each row's real tokens, read them left to right, reverse back.
        # The backward GRU so starts at each source's own last token, never on padding.
        backward_states, _ = self.backward_gru(reverse_real_tokens(embedded, lengths))
        backward_states = reverse_real_tokens(backward_states, lengths)
        rows = torch.arange(source.size(0), device=source.device)
        # Each direction's last state: the forward GRU's at the last real token, the backward
        # GRU's at the first token.
        summary = torch.cat([forward_states[rows, lengths - 1], backward_states[:, 0]], dim=-1)
        return torch.cat([forward_states, backward_states], dim=-1), summary
# --8<-- [end:encoder]


# --8<-- [start:additive_attention]
class AdditiveAttention(nn.Module):
    """Bahdanau attention: score every source state against the decoder's state with a small
    feed-forward network, ``v . tanh(W s + U h_j)``, and softmax the scores into weights."""

    def __init__(self, decoder_size: int, encoder_size: int, attention_size: int):
        super().__init__()
        self.query = nn.Linear(decoder_size, attention_size, bias=False)  # W
        self.key = nn.Linear(encoder_size, attention_size, bias=False)  # U
        self.score = nn.Linear(attention_size, 1, bias=False)  # v

    def forward(self, decoder_state: torch.Tensor, keys: torch.Tensor, states: torch.Tensor,
                source_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """decoder_state (batch, decoder_size), keys = ``self.key(states)`` precomputed once per
        source (batch, source_len, attention_size), states (batch, source_len, encoder_size),
        source_mask (batch, source_len), True on real tokens.

        Returns the context (batch, encoder_size) and the weights (batch, source_len).
        """
        hidden = torch.tanh(self.query(decoder_state)[:, None, :] + keys)
        scores = self.score(hidden).squeeze(-1)  # (batch, source_len)
        # Padding gets a score of -inf, hence a weight of exactly 0 after the softmax.
        scores = scores.masked_fill(~source_mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = (weights[:, :, None] * states).sum(dim=1)  # weighted average of the states
        return context, weights
# --8<-- [end:additive_attention]


# --8<-- [start:seq2seq]
class Seq2SeqRNN(nn.Module):
    """GRU encoder-decoder; ``attention=True`` adds additive attention, nothing else changes."""

    def __init__(self, source_vocab_size: int, target_vocab_size: int, embed_size: int = 64,
                 hidden_size: int = 128, attention: bool = False):
        super().__init__()
        for name, value, least in [("source_vocab_size", source_vocab_size, len(SPECIALS) + 1),
                                   ("target_vocab_size", target_vocab_size, len(SPECIALS) + 1),
                                   ("embed_size", embed_size, 1),
                                   ("hidden_size", hidden_size, 1)]:
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{name}={value!r} must be an integer >= {least}"
                                 + (" (the special tokens <pad>, <bos>, <eos> plus at least "
                                    "one real token)" if "vocab" in name else ""))
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.attention = attention
        encoder_size = 2 * hidden_size  # forward and backward states side by side
        self.encoder = Encoder(source_vocab_size, embed_size, hidden_size)
        self.init_state = nn.Linear(encoder_size, hidden_size)
        self.attend = (AdditiveAttention(hidden_size, encoder_size, hidden_size) if attention
                       else None)
        self.embed = nn.Embedding(target_vocab_size, embed_size, padding_idx=PAD)
        self.cell = nn.GRUCell(embed_size + encoder_size, hidden_size)
        self.out = nn.Linear(hidden_size + encoder_size + embed_size, target_vocab_size)

    def decoder_step(self, previous: torch.Tensor, state: torch.Tensor, memory: dict
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One output token: previous token ids (batch,) and decoder state (batch, hidden) ->
        logits (batch, target_vocab), the new state, and the attention weights (or None).
        """
        if self.attend is None:
            # Without attention the decoder sees the same summary vector at every step.
            context, weights = memory["summary"], None
        else:
            # With attention it looks back at every source state, with weights that depend on
            # what it has written so far (its state before this step).
            context, weights = self.attend(state, memory["keys"], memory["states"],
                                           memory["mask"])
        embedded = self.embed(previous)
        state = self.cell(torch.cat([embedded, context], dim=-1), state)
        logits = self.out(torch.cat([state, context, embedded], dim=-1))
        return logits, state, weights

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Run the encoder: the decoder's first state and what it may read at every step."""
        check_token_ids(source, self.source_vocab_size, "source")
        if source.dim() != 2:
            raise ValueError(f"source must have shape (batch, source_len), got "
                             f"{tuple(source.shape)}")
        real = source != PAD
        if not real[:, 0].all():
            raise ValueError("source has a row that starts with padding: every source needs a "
                             "real token (at least its EOS) before its padding")
        if (real[:, 1:] > real[:, :-1]).any():
            raise ValueError("source has padding before a real token: pad sources at the end only "
                             "(translation.pad does)")
        states, summary = self.encoder(source)
        memory = {"summary": summary, "states": states, "mask": source != PAD}
        if self.attend is not None:
            memory["keys"] = self.attend.key(states)  # U h_j does not change between steps
        return torch.tanh(self.init_state(summary)), memory

    def forward(self, source: torch.Tensor, target_in: torch.Tensor,
                target_out: torch.Tensor | None = None):
        """Teacher forcing: the decoder reads the true previous token at every step.

        source (batch, source_len), target_in (batch, target_len) starting with BOS ->
        logits (batch, target_len, target_vocab), and the loss if ``target_out`` is given.
        """
        state, memory = self.encode(source)
        check_token_ids(target_in, self.target_vocab_size, "target_in")
        if target_in.dim() != 2 or target_in.size(0) != source.size(0):
            raise ValueError(f"target_in must have shape (batch={source.size(0)}, target_len), "
                             f"got {tuple(target_in.shape)}")
        logits = []
        for t in range(target_in.size(1)):  # one step after the other: step t needs step t-1
            step_logits, state, _ = self.decoder_step(target_in[:, t], state, memory)
            logits.append(step_logits)
        logits = torch.stack(logits, dim=1)
        loss = None if target_out is None else sequence_loss(logits, target_out)
        return logits, loss

    @torch.no_grad()
    def generate(self, source: torch.Tensor, max_new_tokens: int, return_attention: bool = False):
        """Greedy decoding: feed back the most likely token until every row has written EOS.

        Returns ids (batch, steps), with ``steps <= max_new_tokens`` and PAD after a row's EOS;
        with ``return_attention=True`` (attention models only) also the attention weights
        (batch, steps, source_len) of every step.
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 1")
        if return_attention and self.attend is None:
            raise ValueError("return_attention=True needs a model built with attention=True")
        state, memory = self.encode(source)
        previous = torch.full((source.size(0),), BOS, dtype=torch.long, device=source.device)
        finished = torch.zeros(source.size(0), dtype=torch.bool, device=source.device)
        ids, maps = [], []
        for _ in range(max_new_tokens):
            logits, state, weights = self.decoder_step(previous, state, memory)
            previous = logits.argmax(dim=-1).masked_fill(finished, PAD)
            ids.append(previous)
            if weights is not None:
                maps.append(weights)
            finished |= previous == EOS
            if finished.all():
                break
        ids = torch.stack(ids, dim=1)
        return (ids, torch.stack(maps, dim=1)) if return_attention else ids
# --8<-- [end:seq2seq]
