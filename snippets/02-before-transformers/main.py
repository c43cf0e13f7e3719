# %% [markdown]
# # Chapter 2: Before transformers
#
# Before the Transformer, machine translation was done by two recurrent networks: an encoder
# that reads the source one token at a time, and a decoder that writes the translation one
# token at a time. This notebook trains two of them on a toy translation task, without and
# with attention, measures how their accuracy depends on the length of the source, and times
# a training step as the sequences get longer.

# %%
# --8<-- [start:task]
from llm_evolution.translation import translation_data

data = translation_data("numbers")
print(f"pairs: {len(data.train_pairs):,} for training, {len(data.held_out_pairs):,} held out")
print(f"source vocabulary: {len(data.source_vocab)} tokens, target vocabulary: "
      f"{len(data.target_vocab)} tokens")
print("target tokens:", " ".join(data.target_vocab.tokens))
for source, target in data.train_pairs[:4]:
    print(f"{source}  ->  {target}")
lengths = [len(source.split()) for source, _ in data.train_pairs]
print(f"source lengths: {min(lengths)} to {max(lengths)} words")
# --8<-- [end:task]

# %% [markdown]
# ## Why the task needs alignment
#
# Where a digit goes depends on words that come after it, and zeros are said by no word.

# %%
# --8<-- [start:alignment]
from llm_evolution.data.synthetic import number_to_words

for n in [5_000_003, 5_003_000, 5_300_000, 5_000_300_000]:
    print(f"{number_to_words(n):36} ->  {n}")
# --8<-- [end:alignment]

# %% [markdown]
# ## From text to tensors
#
# Sources end with `<eos>`; the decoder reads `<bos>` + target and must predict target +
# `<eos>`. Shorter rows are padded with `<pad>` (id 0).

# %%
# --8<-- [start:tensors]
pairs = [("two hundred fifty nine", "259"), ("five million three", "5000003")]
source, target_in, target_out = data.batch(pairs)
print("source words:", {word: data.source_vocab.index[word] for word in pairs[0][0].split()})
print("source:\n", source)
print("target_in:\n", target_in)
print("target_out:\n", target_out)
# --8<-- [end:tensors]

# %% [markdown]
# ## A GRU step, written out
#
# A recurrent network keeps one state vector and updates it with every token it reads. Here is
# one step of a GRU (Cho et al. 2014), with the weights of PyTorch's `nn.GRUCell`.

# %%
# --8<-- [start:gru]
import torch
from torch import nn


def gru_step(x: torch.Tensor, h: torch.Tensor, cell: nn.GRUCell) -> torch.Tensor:
    """One GRU step, written out with the weights of ``cell``: input x, previous state h."""
    W_r, W_z, W_n = cell.weight_ih.chunk(3)  # weights on the input, one per gate
    U_r, U_z, U_n = cell.weight_hh.chunk(3)  # weights on the previous state
    b_r, b_z, b_n = cell.bias_ih.chunk(3)
    c_r, c_z, c_n = cell.bias_hh.chunk(3)
    r = torch.sigmoid(x @ W_r.T + b_r + h @ U_r.T + c_r)  # reset gate: how much of h to use
    z = torch.sigmoid(x @ W_z.T + b_z + h @ U_z.T + c_z)  # update gate: keep h or replace it
    n = torch.tanh(x @ W_n.T + b_n + r * (h @ U_n.T + c_n))  # the candidate new state
    return (1 - z) * n + z * h  # a blend, chosen number by number, of old and new


torch.manual_seed(0)
cell = nn.GRUCell(input_size=4, hidden_size=3)
x, h = torch.randn(2, 4), torch.randn(2, 3)
print("same as nn.GRUCell:", torch.allclose(gru_step(x, h, cell), cell(x, h), atol=1e-6))

# Reading a sequence is a loop: step t needs the state of step t-1.
for length in [3, 30, 300]:
    h = torch.zeros(1, 3)
    for x in torch.randn(length, 1, 4):
        h = gru_step(x, h, cell)
    print(f"after {length:3} tokens the state still holds {h.numel()} numbers")
# --8<-- [end:gru]

# %% [markdown]
# ## Training both translators
#
# `zoo.get` trains each model the first time (a minute or two each on a laptop CPU), then loads
# the cached weights.

# %%
# --8<-- [start:train]
from llm_evolution import zoo
from llm_evolution.translation import exact_match

models = {"without attention": zoo.get("rnn-translator"),
          "with attention": zoo.get("rnn-attention-translator")}
for label, trained in models.items():
    parameters = sum(p.numel() for p in trained.model.parameters())
    accuracy = exact_match(trained.model, data)  # all 2,000 held-out pairs
    print(f"{label:17}  {parameters:,} parameters, {trained.history.steps[-1]:,} steps, "
          f"held-out exact match {accuracy:.1%}")
# --8<-- [end:train]

# %% [markdown]
# The held-out accuracy recorded during training, on the same 500 held-out pairs each time:

# %%
# --8<-- [start:curve]
for label, trained in models.items():
    history = trained.history
    shown = [f"{step}: {accuracy:.1%}" for step, accuracy
             in zip(history.steps, history.metrics["accuracy"]) if step % 80 == 0]
    print(f"{label:17}  " + ", ".join(shown))
# --8<-- [end:curve]

# %% [markdown]
# ## Translations, right and wrong

# %%
# --8<-- [start:translations]
from llm_evolution.translation import translate

sources = [source for source, _ in data.held_out_pairs]
targets = [target for _, target in data.held_out_pairs]
guesses = {label: translate(trained.model, data, sources) for label, trained in models.items()}
plain, attended = guesses["without attention"], guesses["with attention"]
# The first two held-out pairs, then the next four that the model without attention gets
# wrong.
wrong = [i for i in range(2, len(sources)) if plain[i] != targets[i]]
print(f"{'right answer':>13}  {'without attention':>19}  {'with attention':>19}")
for i in [0, 1] + wrong[:4]:
    marks = ["ok" if guess == targets[i] else "wrong" for guess in (plain[i], attended[i])]
    print(sources[i])
    print(f"{targets[i]:>13}  {plain[i]:>13} {marks[0]:>5}  {attended[i]:>13} {marks[1]:>5}")
# --8<-- [end:translations]

# %% [markdown]
# ## Accuracy by source length

# %%
# --8<-- [start:by_length]
buckets = [(1, 4), (5, 8), (9, 12), (13, 16), (17, 19)]
print(f"{'source words':>12} {'pairs':>6} {'without attention':>18} {'with attention':>15}")
for low, high in buckets:
    inside = [i for i, source in enumerate(sources) if low <= len(source.split()) <= high]
    right = {label: sum(guesses[label][i] == targets[i] for i in inside) / len(inside)
             for label in guesses}
    print(f"{f'{low}-{high}':>12} {len(inside):>6} {right['without attention']:>18.1%} "
          f"{right['with attention']:>15.1%}")
# --8<-- [end:by_length]

# %% [markdown]
# ## Where the attention model looks
#
# For one held-out number, the source word each output token gave the most weight.

# %%
# --8<-- [start:attention_map]
from llm_evolution.translation import ATTENTION_EXAMPLE_INDEX, rnn_attention_map

source_text, target = data.held_out_pairs[ATTENTION_EXAMPLE_INDEX]
words, outputs, weights = rnn_attention_map(models["with attention"].model, data, source_text)
print(f"{source_text}  ->  {''.join(outputs[:-1])} (right answer {target})")
for token, row in zip(outputs, weights):
    top = row.topk(2)
    looked = ", ".join(f"{words[j]!r} {w:.2f}" for w, j in zip(top.values, top.indices))
    print(f"{token:>6}  looked at {looked}")
# --8<-- [end:attention_map]

# %% [markdown]
# ## Time per training step as the sequences grow

# %%
# --8<-- [start:step_time]
from llm_evolution.timing import step_seconds_by_length

seconds = step_seconds_by_length("rnn-translator", (8, 16, 32, 64, 128), batch_size=32)
for length, step in seconds.items():
    print(f"length {length:3}: {1000 * step:.1f} ms per step, "
          f"{1e6 * step / length:.0f} µs per position")
# The same number of tokens (4,096) as 512 short sequences or 16 long ones:
wide = step_seconds_by_length("rnn-translator", (8,), batch_size=512)[8]
long = step_seconds_by_length("rnn-translator", (256,), batch_size=16)[256]
print(f"512 sequences of 8 tokens: {1000 * wide:.1f} ms per step")
print(f"16 sequences of 256 tokens: {1000 * long:.1f} ms per step")
# --8<-- [end:step_time]
