# %% [markdown]
# # Chapter 6: Generative pretraining, GPT
#
# A GPT is a stack of Transformer blocks in which every token sees only the tokens before it,
# trained to predict the next token. This notebook checks our GPT against Hugging Face's
# GPT-2 code, trains two small GPTs on Shakespeare (characters and byte-pair tokens), compares
# them fairly in bits per character, samples from them in several ways, and measures what a
# key-value cache saves.

# %%
# --8<-- [start:hf_random]
import torch
import transformers

from llm_evolution.generation import generate
from llm_evolution.interop.hf import gpt_from_hf

# A small GPT-2 with random weights, built by transformers' own code.
torch.manual_seed(0)
hf_config = transformers.GPT2Config(vocab_size=100, n_positions=64, n_embd=64, n_head=4,
                                    n_layer=2, bos_token_id=None, eos_token_id=None)
hf_model = transformers.GPT2LMHeadModel(hf_config).eval()
model = gpt_from_hf(hf_model)  # our GPT, holding the same weights
print(model.config)

ids = torch.randint(0, 100, (2, 20), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    difference = (model(ids)[0] - hf_model(ids).logits).abs().max().item()
print(f"max abs difference of logits < 1e-5: {difference < 1e-5}")

prompt = ids[:1, :5]
ours = generate(model, prompt, 30, greedy=True)
theirs = hf_model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                           max_new_tokens=30, pad_token_id=0)
print(f"30 greedy tokens identical: {torch.equal(ours, theirs)}")
# --8<-- [end:hf_random]

# %% [markdown]
# ## Two small GPTs trained on Shakespeare
#
# The same model and training, once on characters and once on chapter 4's byte-pair tokens
# (cut down to 1,024). `zoo.get` trains each once (a few minutes on a laptop) and caches it.

# %%
# --8<-- [start:trained]
from llm_evolution import zoo
from llm_evolution.data.text import bpe_corpus, char_corpus

corpus = char_corpus()
bpe = bpe_corpus()
gpt_char = zoo.get("gpt-char")  # trains on first use, then loads from the cache
gpt_bpe = zoo.get("gpt-bpe")
for trained, tokens in [(gpt_char, corpus), (gpt_bpe, bpe)]:
    parameters = sum(p.numel() for p in trained.model.parameters())
    history = trained.history
    print(f"{trained.recipe.name}: vocabulary {tokens.tokenizer.vocab_size:,}, "
          f"{parameters:,} parameters, {history.steps[-1]} steps, held-out loss "
          f"{history.val_loss[-1]:.3f} nats per token")
print(f"held-out text: {len(corpus.val_text):,} characters = {len(bpe.val_ids):,} BPE tokens")
# --8<-- [end:trained]

# %% [markdown]
# ## A fair comparison: bits per character
#
# Per-token losses of different tokenizers do not compare; the whole held-out text's loss,
# divided by its number of characters, does.

# %%
# --8<-- [start:bpc]
import math

from llm_evolution.evaluation import bits_per_character
from llm_evolution.training import perplexity

n_chars = len(corpus.val_text)
bigram = zoo.get("neural-bigram").model
print(f"neural bigram (chapter 1)  {math.log2(perplexity(bigram, corpus.val_ids)):.3f} "
      "bits per character")
print(f"GPT on characters          {bits_per_character(gpt_char.model, corpus.val_ids, n_chars):.3f}"
      " bits per character")
print(f"GPT on BPE tokens          {bits_per_character(gpt_bpe.model, bpe.val_ids, n_chars):.3f}"
      " bits per character")
# The training curves (the figure below): held-out loss on the fixed evaluation batches, in
# bits per character through the held-out text's ratio of tokens to characters.
bigram_bits = math.log2(perplexity(bigram, corpus.val_ids))
for trained, tokens in [(gpt_char, corpus.val_ids), (gpt_bpe, bpe.val_ids)]:
    history = trained.history
    curve = [loss * len(tokens) / n_chars / math.log(2) for loss in history.val_loss]
    below = next((step for step, bits in zip(history.steps, curve) if bits < bigram_bits), None)
    print(f"{trained.recipe.name}: {curve[0]:.2f} bits at step {history.steps[0]}, "
          f"{curve[-2]:.2f} at {history.steps[-2]}, {curve[-1]:.2f} at {history.steps[-1]}; "
          f"below the bigram from step {below}")
# --8<-- [end:bpc]

# %% [markdown]
# Samples from each, with the same seed and settings.

# %%
# --8<-- [start:samples]
from llm_evolution.generation import sample


def write(trained, tokenizer, prompt: str, new_tokens: int, seed: int = 0) -> str:
    """Prompt plus ``new_tokens`` tokens drawn from the full distribution, as in chapter 1;
    the input is cropped to the model's context, so the text can run past it."""
    prompt_ids = torch.tensor([tokenizer.encode(prompt)])
    generator = torch.Generator().manual_seed(seed)
    out = sample(trained.model, prompt_ids, new_tokens, generator=generator,
                 context_size=trained.model.config.context_size)
    return tokenizer.decode(out[0].tolist())


print(write(gpt_char, corpus.tokenizer, "ROMEO.\n", 240))
print("-" * 40)
print(write(gpt_bpe, bpe.tokenizer, "ROMEO.\n", 100))
# --8<-- [end:samples]

# %% [markdown]
# ## Our trained GPT inside transformers
#
# Convert, save with `save_pretrained`, reload from the folder, and generate with
# transformers' own `generate`: the same text as ours.

# %%
# --8<-- [start:to_hf]
import tempfile

from llm_evolution.interop.hf import gpt_to_hf

transformers.utils.logging.disable_progress_bar()  # no progress bars for a tiny model
prompt_ids = torch.tensor([corpus.tokenizer.encode("JULIET.\n")])
with tempfile.TemporaryDirectory() as folder:
    gpt_to_hf(gpt_char.model).save_pretrained(folder)
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(folder, local_files_only=True)
theirs = reloaded.eval().generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids),
                                  do_sample=False, max_new_tokens=48, pad_token_id=0)
ours = generate(gpt_char.model, prompt_ids, 48, greedy=True)
print(corpus.tokenizer.decode(theirs[0].tolist()))
print(f"identical to ours: {torch.equal(ours, theirs)}")
# --8<-- [end:to_hf]

# %% [markdown]
# ## Sampling strategies
#
# Greedy, temperatures, top-k and top-p on the same prompt, each with the same seed.

# %%
# --8<-- [start:sampling]
strategies = {
    "greedy": {"greedy": True},
    "T = 0.5": {"temperature": 0.5},
    "T = 1.0": {"temperature": 1.0},
    "T = 1.5": {"temperature": 1.5},
    "top-k 5": {"top_k": 5},
    "top-p 0.9": {"top_p": 0.9},
}
prompt_ids = torch.tensor([corpus.tokenizer.encode("HAMLET.\n")])
for name, settings in strategies.items():
    # 8 prompt + 56 new characters fill the 64-character context exactly.
    out = generate(gpt_char.model, prompt_ids, 56, generator=torch.Generator().manual_seed(1),
                   **settings)
    print(f"{name:9} | {corpus.tokenizer.decode(out[0, 8:].tolist())!r}")
# --8<-- [end:sampling]

# %% [markdown]
# How temperature reshapes one next-character distribution.

# %%
# --8<-- [start:temperature]
from llm_evolution.generation import TEMPERATURE_PROMPT, temperature_probabilities

prompt_ids = torch.tensor([corpus.tokenizer.encode(TEMPERATURE_PROMPT)])
for t, probs in temperature_probabilities(gpt_char.model, prompt_ids,
                                          temperatures=(0.5, 1.0, 1.5, 2.0)).items():
    entropy = -(probs * probs.clamp_min(1e-30).log2()).sum().item()
    best = probs.argmax().item()
    print(f"T = {t:.1f}: top-1 {corpus.tokenizer.decode([best])!r} {probs[best]:.3f}, "
          f"entropy {entropy:.2f} bits")
# --8<-- [end:temperature]

# %% [markdown]
# ## The key-value cache
#
# The same tokens with and without the cache; how many positions the model reads either way;
# and the time it takes.

# %%
# --8<-- [start:kv_cache]
model = gpt_char.model
prompt_ids = torch.tensor([corpus.tokenizer.encode("HAMLET.\n")])
with_cache, without_cache = (
    generate(model, prompt_ids, 50, temperature=0.8, use_cache=cache,
             generator=torch.Generator().manual_seed(2)) for cache in (True, False))
print(f"same 50 sampled tokens with and without the cache: "
      f"{torch.equal(with_cache, without_cache)}")

positions_read = []  # one entry per forward pass: how many positions it read
# the token embedding reads every position a forward pass is given, cached or not
hook = model.token_embedding.register_forward_pre_hook(
    lambda module, args: positions_read.append(args[0].size(1)))
for cache in (False, True):
    positions_read.clear()
    generate(model, prompt_ids, 50, greedy=True, use_cache=cache)
    print(f"use_cache={cache!s:5}: {len(positions_read)} forward passes read "
          f"{sum(positions_read):,} positions ({prompt_ids.size(1)} prompt + 50 new tokens)")
hook.remove()
# --8<-- [end:kv_cache]

# %%
# --8<-- [start:kv_timing]
from llm_evolution.generation import kv_cache_seconds

for n, (without, with_cache) in kv_cache_seconds().items():
    print(f"{n:3} new tokens: {without:.2f} s without cache, {with_cache:.2f} s with "
          f"({without / with_cache:.1f}x faster)")
# --8<-- [end:kv_timing]

# %% [markdown]
# ## Longer than the context
#
# Past the context the model reads only the last `context_size` tokens: a sliding window.

# %%
# --8<-- [start:sliding_window]
context = gpt_bpe.model.config.context_size
prompt_ids = torch.tensor([bpe.tokenizer.encode("ROMEO.\n")])
positions_read = []  # one entry per forward pass: how many positions it read
hook = gpt_bpe.model.token_embedding.register_forward_pre_hook(
    lambda module, args: positions_read.append(args[0].size(1)))
out = generate(gpt_bpe.model, prompt_ids, 3 * context, top_p=0.9,
               generator=torch.Generator().manual_seed(0))
hook.remove()
print(f"{out.size(1)} tokens, written with a context of {context}: the longest forward pass "
      f"read {max(positions_read)} positions")
print(bpe.tokenizer.decode(out[0].tolist()))
# --8<-- [end:sliding_window]

# %% [markdown]
# ## Fine-tuning: GPT-1's second step
#
# The pretrained gpt-bpe fine-tuned on chapter 5's comedy-or-tragedy speeches, beside the same
# network from random weights.

# %%
# --8<-- [start:fine_tune]
from llm_evolution.gpt_fine_tuning import genre_fine_tuning

results = genre_fine_tuning()  # chapter 5's settings: 40 steps, 50 or 200 labels, 2 seeds
print("labels   scratch           pretrained        gain")
for n_labels in (50, 200):
    scratch = torch.tensor(results[f"scratch {n_labels}"])
    tuned = torch.tensor(results[f"pretrained {n_labels}"])
    print(f"{n_labels:6}   {scratch.mean():5.1%} ({scratch.min():.0%}-{scratch.max():.0%})   "
          f"{tuned.mean():5.1%} ({tuned.min():.0%}-{tuned.max():.0%})   "
          f"{100 * (tuned.mean() - scratch.mean()):+.1f}")
# --8<-- [end:fine_tune]

# %% [markdown]
# ## Errors that say what to fix

# %%
# --8<-- [start:errors]
attempts = {
    "a negative number of new tokens": lambda: generate(model, prompt_ids, -1, greedy=True),
    "top_p outside (0, 1]": lambda: generate(model, prompt_ids, 5, top_p=1.5,
                                              generator=torch.Generator()),
    "temperature 0": lambda: generate(model, prompt_ids, 5, temperature=0.0,
                                      generator=torch.Generator()),
    "id out of range": lambda: model(torch.tensor([[3, corpus.tokenizer.vocab_size]])),
}
for what, attempt in attempts.items():
    try:
        attempt()
    except ValueError as e:
        print(f"{what}:\n  {type(e).__name__}: {e}")
# --8<-- [end:errors]
