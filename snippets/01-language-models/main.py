# %% [markdown]
# # Chapter 1: What a language model is
#
# A language model gives a probability to every possible next token, given the tokens so far.
# This notebook builds the simplest one twice: by counting pairs of characters in Shakespeare,
# and by learning the same table with gradient descent. Then it measures both on text they
# never saw.

# %%
# --8<-- [start:corpus]
import torch

from llm_evolution.data.text import char_corpus

corpus = char_corpus()
print(f"training text: {len(corpus.train_text):,} characters")
print(f"held-out text: {len(corpus.val_text):,} characters")
print(corpus.train_text[:200])
# --8<-- [end:corpus]

# %% [markdown]
# ## Characters as tokens
#
# A tokenizer turns text into integer ids and back; here every distinct character gets one.

# %%
# --8<-- [start:tokenizer]
tokenizer = corpus.tokenizer
print(f"vocabulary: {tokenizer.vocab_size} characters")
print(repr("".join(tokenizer.chars)))
ids = tokenizer.encode("To be, or not to be")
print(ids)
print(tokenizer.decode(ids))
# --8<-- [end:tokenizer]

# %% [markdown]
# ## Counting pairs
#
# A bigram model keeps, for every character, how often each character follows it.

# %%
# --8<-- [start:count]
from llm_evolution.models.bigram import CountBigram, bigram_counts

counts = bigram_counts(corpus.train_ids, tokenizer.vocab_size)
print(f"{counts.sum().item():,} pairs counted")
top = torch.topk(counts.flatten(), 5)
for count, pair in zip(top.values.tolist(), top.indices.tolist()):
    current, following = divmod(pair, tokenizer.vocab_size)
    print(f"{tokenizer.decode([current, following])!r}: {count:,}")
# --8<-- [end:count]

# %% [markdown]
# ## From counts to probabilities
#
# Each row of counts, smoothed by adding one and divided by its sum, is P(next | current).

# %%
# --8<-- [start:next_char]
count_model = CountBigram(counts)


def show_next(model, char: str, k: int = 5) -> None:
    """Print the k most likely characters after ``char`` under a bigram model."""
    logits, _ = model(torch.tensor([[tokenizer.encode(char)[0]]]))
    probs = torch.softmax(logits[0, -1], dim=-1)
    best = torch.topk(probs, k)
    shown = ", ".join(f"{tokenizer.decode([i])!r} {p:.3f}"
                      for p, i in zip(best.values.tolist(), best.indices.tolist()))
    print(f"after {char!r}: {shown}")


for char in ["q", "t", "."]:
    show_next(count_model, char)

# Smoothing is crude for rare rows: every 'q' in the text is followed by 'u', yet the table
# gives 'u' less than 0.9 because one is added to each of the vocab_size entries of the row.
q, u = tokenizer.encode("qu")
q_total = counts[q].sum().item()
print(f"'q' is followed by 'u' {counts[q, u].item()} times out of {q_total}; smoothed: "
      f"({counts[q, u].item()} + 1) / ({q_total} + {tokenizer.vocab_size}) = "
      f"{(counts[q, u].item() + 1) / (q_total + tokenizer.vocab_size):.3f}")
# --8<-- [end:next_char]

# %% [markdown]
# ## Writing with a bigram
#
# Draw the next character from the model's distribution, append it, repeat.

# %%
# --8<-- [start:sample_counts]
from llm_evolution.generation import sample

generator = torch.Generator().manual_seed(0)
prompt = torch.tensor([tokenizer.encode("\n")])
text = tokenizer.decode(sample(count_model, prompt, 200, generator=generator)[0].tolist())
print(text)
# --8<-- [end:sample_counts]

# %% [markdown]
# ## Perplexity on held-out text
#
# exp(mean negative log-probability of each real next character): the number of equally likely
# choices the model is, on average, hesitating between. Lower is better.

# %%
# --8<-- [start:perplexity]
from llm_evolution.training import perplexity

vocab_size = tokenizer.vocab_size
unigram_counts = torch.bincount(corpus.train_ids, minlength=vocab_size)
# A unigram model ignores the current character: every row of its table is the same.
unigram_model = CountBigram(unigram_counts.expand(vocab_size, vocab_size))
uniform_model = CountBigram(torch.zeros(vocab_size, vocab_size))  # smoothing only: all equal

for name, model in [("uniform", uniform_model), ("unigram", unigram_model),
                    ("bigram (counts)", count_model)]:
    print(f"{name:16} held-out perplexity {perplexity(model, corpus.val_ids):6.2f}")
# --8<-- [end:perplexity]

# %% [markdown]
# ## The same model, learned
#
# A 74 x 74 table of learnable scores trained by gradient descent with the site's training
# loop. `zoo.get` trains it once and caches the weights.

# %%
# --8<-- [start:neural]
import math

from llm_evolution import zoo

trained = zoo.get("neural-bigram")  # trains on first use (a few seconds), then cached
neural_model = trained.model
history = trained.history
print("step  training loss  held-out loss   (the mean over each 50 steps; fixed held-out batches)")
for step, train_loss, val_loss in zip(history.steps, history.train_loss, history.val_loss):
    if step in (50, 100, 200, 1000, history.steps[-1]):
        print(f"{step:4}  {train_loss:13.3f}  {val_loss:13.3f}")
counted_loss = math.log(perplexity(count_model, corpus.val_ids))  # log perplexity = loss
print(f"the counted table's held-out loss: {counted_loss:.3f} (the dashed line in the figure)")
print(f"bigram (neural)  held-out perplexity {perplexity(neural_model, corpus.val_ids):6.2f}")
# --8<-- [end:neural]

# %% [markdown]
# How close did gradient descent get to the counted table?

# %%
# --8<-- [start:compare]
with torch.no_grad():
    learned = torch.softmax(neural_model.logits_table.weight, dim=-1)
    counted = count_model.log_probs.exp()
# Compare the rows the model sees most: the 10 most frequent current characters.
frequent = torch.topk(unigram_counts, 10).indices
difference = (learned[frequent] - counted[frequent]).abs().max()
print(f"frequent rows: learned and counted probabilities differ by at most {difference:.3f}")
for char in ["q", "t", "."]:
    show_next(neural_model, char)
# --8<-- [end:compare]

# %% [markdown]
# Why is the learned model's held-out perplexity a little worse than the counted one's?

# %%
# --8<-- [start:gap]
# 1. Held-out pairs that never occur in the training text: the smoothed table keeps a little
#    probability for them, the learned table almost none.
val_pairs = corpus.val_ids[:-1] * vocab_size + corpus.val_ids[1:]
unseen = (counts.flatten()[val_pairs] == 0).sum().item()
print(f"held-out pairs never seen in training: {unseen} of {len(val_pairs):,}")
# 2. On its own training text the learned table should beat any other table, if training had
#    converged: the exact counts (no smoothing) are the best possible bigram for that text.
for name, model in [("bigram (counts)", count_model), ("bigram (neural)", neural_model)]:
    print(f"{name}  training-text perplexity {perplexity(model, corpus.train_ids):6.2f}")
# --8<-- [end:gap]

# %% [markdown]
# Sampled with the same seed, the learned model writes almost the same text.

# %%
# --8<-- [start:sample_neural]
generator = torch.Generator().manual_seed(0)
text = tokenizer.decode(sample(neural_model, prompt, 200, generator=generator)[0].tolist())
print(text)
# --8<-- [end:sample_neural]
