# %% [markdown]
# # Chapter 3: Attention is all you need (2017)
#
# Attention lets every word build its representation by looking at every other word, all at
# once. This notebook builds scaled dot-product and multi-head attention, checks them against
# PyTorch's own, adds sinusoidal positions, trains the Transformer encoder-decoder on chapter 2's
# translation task, and measures it against the RNNs: accuracy, attention maps and speed.

# %%
# --8<-- [start:idea]
import torch

words = "the cat sat on the mat because it was tired".split()
# Hand-made keys, three numbers per word: (is an animal, is an object, anything else).
keys = torch.tensor([[1.0, 0.0, 0.0] if w == "cat" else [0.0, 1.0, 0.0] if w == "mat"
                     else [0.0, 0.0, 1.0] for w in words])
# The query of "it": it looks for an animal (tired things are alive), or at least an object.
query = torch.tensor([6.0, 2.0, 0.0])
weights = torch.softmax(keys @ query / 3**0.5, dim=-1)  # one weight per word, summing to 1
for word, weight in zip(words, weights.tolist()):
    print(f"{word:8} {weight:.2f} {'#' * round(40 * weight)}")
# --8<-- [end:idea]

# %% [markdown]
# ## Scaled dot-product attention
#
# The library's function takes whole batches of queries, keys and values.

# %%
# --8<-- [start:sdpa]
from llm_evolution.attention import scaled_dot_product_attention

generator = torch.Generator().manual_seed(0)
query, key, value = (torch.randn(2, 5, 8, generator=generator) for _ in range(3))
output, weights = scaled_dot_product_attention(query, key, value)
print(f"output {tuple(output.shape)}, weights {tuple(weights.shape)}")
print("every row of weights sums to 1:", torch.allclose(weights.sum(-1), torch.ones(2, 5)))
# --8<-- [end:sdpa]

# %% [markdown]
# Why divide by sqrt(d)? Dot products of random vectors grow with their size d, and a softmax
# of large scores puts almost all the weight on one key.

# %%
# --8<-- [start:why_scale]
generator = torch.Generator().manual_seed(0)
for d in [4, 64, 1024]:
    query = torch.randn(1000, 1, d, generator=generator)
    key = torch.randn(1000, 10, d, generator=generator)
    scores = (query @ key.transpose(1, 2)).squeeze(1)  # 1000 queries x 10 keys
    top = torch.softmax(scores, -1).max(-1).values.mean()
    top_scaled = torch.softmax(scores / d**0.5, -1).max(-1).values.mean()
    print(f"d={d:4}: scores spread {scores.std():5.1f}, largest weight {top:.2f} unscaled, "
          f"{top_scaled:.2f} scaled")
# --8<-- [end:why_scale]

# %% [markdown]
# ## Masks
#
# True means "may attend". Padding is never looked at; a decoder never looks ahead.

# %%
# --8<-- [start:masks]
from llm_evolution.attention import causal_mask, padding_mask

print(causal_mask(4).int())
ids = torch.tensor([[7, 8, 9, 0, 0]])  # a sequence of 3 tokens padded to 5 (pad id 0)
print(padding_mask(ids, pad_id=0).int())
generator = torch.Generator().manual_seed(0)
x = torch.randn(1, 1, 5, 8, generator=generator)  # (batch, heads, length, d)
_, weights = scaled_dot_product_attention(x, x, x, mask=padding_mask(ids, 0) & causal_mask(5))
for row in weights[0, 0]:  # one row per query, one column per key
    print(" ".join(f"{weight:.2f}" for weight in row))
# --8<-- [end:masks]

# %% [markdown]
# ## Multi-head attention

# %%
# --8<-- [start:multi_head]
from llm_evolution.attention import MultiHeadAttention

torch.manual_seed(0)
attention = MultiHeadAttention(d_model=32, n_heads=4, store_weights=True)  # keep the weights
x = torch.randn(2, 6, 32)  # a batch of 2 sequences of 6 vectors
out = attention(x, x, x)  # self-attention: the sequence attends to itself
print(f"output {tuple(out.shape)}, weights {tuple(attention.last_weights.shape)} "
      "(batch, heads, queries, keys)")
print(f"parameters: {sum(p.numel() for p in attention.parameters()):,}")
# --8<-- [end:multi_head]

# %% [markdown]
# ## The same numbers as PyTorch's own attention

# %%
# --8<-- [start:check]
import torch.nn.functional as F
from torch import nn

generator = torch.Generator().manual_seed(0)
query, key, value = (torch.randn(2, 4, 6, 8, generator=generator) for _ in range(3))
ids = torch.tensor([[5, 6, 7, 8, 0, 0], [5, 6, 7, 8, 9, 10]])
mask = padding_mask(ids, 0) & causal_mask(6)
ours, _ = scaled_dot_product_attention(query, key, value, mask)
theirs = F.scaled_dot_product_attention(query, key, value, attn_mask=mask)
print(f"scaled dot-product, max abs difference < 1e-5: {(ours - theirs).abs().max() < 1e-5}")

# nn.MultiheadAttention keeps the q, k and v projections stacked in one matrix, and its masks
# say True where attending is NOT allowed: the opposite of ours.
torch_attention = nn.MultiheadAttention(32, 4, batch_first=True)
with torch.no_grad():
    torch_attention.in_proj_weight.copy_(torch.cat(
        [attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight]))
    torch_attention.in_proj_bias.copy_(torch.cat(
        [attention.q_proj.bias, attention.k_proj.bias, attention.v_proj.bias]))
    torch_attention.out_proj.load_state_dict(attention.out_proj.state_dict())
ours = attention(x, x, x, mask=mask)
theirs, _ = torch_attention(x, x, x, key_padding_mask=ids == 0, attn_mask=~causal_mask(6))
print(f"multi-head, max abs difference < 1e-5: {(ours - theirs).abs().max() < 1e-5}")
# --8<-- [end:check]

# %% [markdown]
# ## Positions
#
# Attention alone does not see word order: shuffle the inputs and the outputs are shuffled the
# same way, nothing else changes.

# %%
# --8<-- [start:permutation]
order = torch.tensor([3, 0, 5, 1, 4, 2])
shuffled_out = attention(x[:, order], x[:, order], x[:, order])
same = (shuffled_out - attention(x, x, x)[:, order]).abs().max()
print(f"shuffled inputs give shuffled outputs, max abs difference < 1e-5: {same < 1e-5}")
# --8<-- [end:permutation]

# %% [markdown]
# The Transformer adds a fixed pattern of sines and cosines to each position's vector.

# %%
# --8<-- [start:positions]
from llm_evolution.models.transformer import sinusoidal_positions

table = sinusoidal_positions(max_len=64, d_model=32)
print(f"table {tuple(table.shape)}; position 1, first 4 dimensions:",
      [round(value, 3) for value in table[1, :4].tolist()])
# The product of two positions' patterns depends only on how far apart they are.
for p in [0, 10, 40]:
    print(f"position {p:2} . position {p + 3:2} = {table[p] @ table[p + 3]:.3f}")

with_positions = x + table[:6]
shuffled = x[:, order] + table[:6]  # the same vectors in another order, then positions added
moved = (attention(shuffled, shuffled, shuffled)
         - attention(with_positions, with_positions, with_positions)[:, order]).abs().max()
print(f"with positions, shuffled inputs still give shuffled outputs: {moved < 1e-5}")
# --8<-- [end:positions]

# %% [markdown]
# ## The Transformer, trained on chapter 2's task

# %%
# --8<-- [start:sizes]
from llm_evolution import zoo
from llm_evolution.translation import translation_data

data = translation_data("numbers")
names = {"rnn-translator": "RNN", "rnn-attention-translator": "RNN + attention",
         "transformer-translator": "Transformer (post-LN)",
         "transformer-translator-pre-ln": "Transformer (pre-LN)"}
trained = {name: zoo.get(name) for name in names}  # trains on first use, then cached
for name, label in names.items():
    print(f"{label:22} {sum(p.numel() for p in trained[name].model.parameters()):8,} parameters")
# --8<-- [end:sizes]

# %% [markdown]
# Held-out exact-match accuracy on all 2,000 held-out numbers, and during training.

# %%
# --8<-- [start:results]
from llm_evolution.translation import translate

sources = [source for source, _ in data.held_out_pairs]
targets = [target for _, target in data.held_out_pairs]
print(f"{'model':22} {'held-out exact match':>21} {'early (steps 40-200)':>22}")
guesses = {}
for name, label in names.items():
    guesses[name] = translate(trained[name].model, data, sources)
    right = sum(guess == target for guess, target in zip(guesses[name], targets))
    history = trained[name].history
    # How fast it learns: the mean of the accuracies recorded at steps 40, 80, ..., 200.
    early = [a for s, a in zip(history.steps, history.metrics["accuracy"]) if s <= 200]
    print(f"{label:22} {right / len(targets):>21.1%} {sum(early) / len(early):>22.1%}")
# --8<-- [end:results]

# %% [markdown]
# The numbers the post-LN Transformer gets wrong.

# %%
# --8<-- [start:mistakes]
wrong = [(source, target, guess) for source, target, guess
         in zip(sources, targets, guesses["transformer-translator"]) if guess != target]
print(f"{len(wrong)} of {len(targets):,} wrong; the first five:")
for source, target, guess in wrong[:5]:
    print(f"{source}\n  right answer {target:>12}, Transformer {guess:>12}")
# --8<-- [end:mistakes]

# %% [markdown]
# Accuracy by source length, for the Transformer.

# %%
# --8<-- [start:by_length]
from collections import Counter

from llm_evolution.translation import accuracy_by_length

transformer = trained["transformer-translator"].model
by_length = accuracy_by_length(transformer, data)
pairs = Counter(len(source.split()) for source, _ in data.held_out_pairs)
print(f"{'source words':>12} {'pairs':>6} {'Transformer (post-LN)':>22}")
for low, high in [(1, 4), (5, 8), (9, 12), (13, 16), (17, 19)]:
    inside = [n for n in by_length if low <= n <= high]
    right = sum(by_length[n] * pairs[n] for n in inside)
    total = sum(pairs[n] for n in inside)
    print(f"{f'{low}-{high}':>12} {total:>6} {right / total:>22.1%}")
# --8<-- [end:by_length]

# %% [markdown]
# ## Where the Transformer looks

# %%
# --8<-- [start:attention_map]
from llm_evolution.translation import ATTENTION_EXAMPLE_INDEX, transformer_attention_map

source_text, target = data.held_out_pairs[ATTENTION_EXAMPLE_INDEX]
words, outputs, weights = transformer_attention_map(transformer, data, source_text)
print(f"{source_text}  ->  {''.join(outputs[:-1])} (right answer {target})")
last_layer = weights[-1]  # (outputs, words), averaged over the heads
for token, row in zip(outputs, last_layer):
    top = row.topk(2)
    looked = ", ".join(f"{words[j]!r} {w:.2f}" for w, j in zip(top.values, top.indices))
    print(f"{token:>6}  looked at {looked}")
# Chapter 2's attention RNN on the same number: does each output look first at the same word?
from llm_evolution.translation import rnn_attention_map

_, rnn_outputs, rnn_weights = rnn_attention_map(zoo.get("rnn-attention-translator").model,
                                                data, source_text)
same = sum(int(ours.argmax()) == int(theirs.argmax())
           for ours, theirs in zip(last_layer, rnn_weights))
print(f"the same most-attended word as chapter 2's attention RNN for {same} of "
      f"{min(len(outputs), len(rnn_outputs))} output tokens")
# --8<-- [end:attention_map]

# %% [markdown]
# ## Training speed: the "efficient in parallel" claim, measured

# %%
# --8<-- [start:steps_to_target]
from llm_evolution.timing import steps_to_accuracy

TARGET = 0.9
speed_names = ["rnn-translator", "rnn-attention-translator", "transformer-translator"]
steps_needed = {name: steps_to_accuracy(trained[name].history, TARGET) for name in speed_names}
for name in speed_names:
    reached, steps = steps_needed[name], trained[name].recipe.config["steps"]
    if reached is None:
        print(f"{names[name]:22} never reaches {TARGET:.0%} held-out accuracy "
              f"in its {steps:,} steps")
    else:
        print(f"{names[name]:22} reaches {TARGET:.0%} held-out accuracy at step {reached}")
# --8<-- [end:steps_to_target]

# %% [markdown]
# How many operations of one training step must wait for the one before: a count, the same on
# every machine.

# %%
# --8<-- [start:sequential]
from llm_evolution.timing import SPEED_LENGTHS, sequential_operations_by_length

print(f"{'sequence length':22}" + "".join(f"{length:>8}" for length in SPEED_LENGTHS))
for name in speed_names:
    counts = sequential_operations_by_length(name)
    print(f"{names[name]:22}" + "".join(f"{counts[length]:>8,}" for length in SPEED_LENGTHS))
# --8<-- [end:sequential]

# %%
# --8<-- [start:step_time]
from llm_evolution.timing import step_seconds_by_length, task_step_seconds

seconds = task_step_seconds(speed_names)
for name in speed_names:
    reached = steps_needed[name]
    to_target = "never" if reached is None else f"{reached * seconds[name]:5.1f} s"
    print(f"{names[name]:22} {1000 * seconds[name]:5.1f} ms per step, "
          f"{TARGET:.0%} accuracy after {to_target}")

# Sequences of 128 tokens, on one processor core and then on two.
long_step = {(name, cores): step_seconds_by_length(name, (128,), repeats=1, threads=cores)[128]
             for cores in (1, 2) for name in speed_names}
for name in speed_names:
    one, two = long_step[name, 1], long_step[name, 2]
    print(f"{names[name]:22} length 128: {1000 * one:5.0f} ms on 1 core, "
          f"{1000 * two:5.0f} ms on 2 ({one / two:.1f}x faster)")

# One step, batches of 16, by sequence length (on every core of this machine).
by_length = {name: step_seconds_by_length(name, SPEED_LENGTHS) for name in speed_names}
print(f"{'sequence length':22}" + "".join(f"{length:>9}" for length in SPEED_LENGTHS))
for name in speed_names:
    print(f"{names[name]:22}" + "".join(f"{1000 * by_length[name][length]:>6.0f} ms"
                                        for length in SPEED_LENGTHS))
ratio = {length: by_length["rnn-attention-translator"][length]
         / by_length["transformer-translator"][length] for length in SPEED_LENGTHS}
print(f"{'RNN + attn / Transf.':22}" + "".join(f"{ratio[length]:>8.1f}x"
                                               for length in SPEED_LENGTHS))
# --8<-- [end:step_time]

# %% [markdown]
# ## Errors that say what is wrong

# %%
# --8<-- [start:errors]
for make in [lambda: MultiHeadAttention(d_model=30, n_heads=4),
             lambda: attention(x, x, x, mask=causal_mask(5)),
             lambda: transformer(torch.full((1, 40), 5), torch.tensor([[1]]))]:
    try:
        make()
    except ValueError as error:
        print(f"ValueError: {error}")
# --8<-- [end:errors]
