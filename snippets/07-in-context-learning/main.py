# %% [markdown]
# # Chapter 7: In-context learning
#
# A tiny GPT is trained on sequences of solved examples, each sequence from one hidden rule.
# Then it is shown 0, 1, 2, 4 or 8 examples of rules it never saw, and asked for one more
# answer, with no weight update. Finally the same few examples are used to fine-tune it.

# %%
# --8<-- [start:tasks]
from llm_evolution.data.tasks import all_rules, apply_rule, split_rules

train_rules, held_out_rules = split_rules(n_held_out=64)
print(f"{len(all_rules())} rules: {len(train_rules)} for training, "
      f"{len(held_out_rules)} held out")
rule = held_out_rules[0]
print("a held-out rule:", rule)
for bits in ["0000", "0110", "1111"]:
    print(f"  {bits} > {apply_rule(rule, bits)}")
# --8<-- [end:tasks]

# %% [markdown]
# ## Prompts
#
# k solved examples of one rule, then a query, fed one input bit at a time; after each, the
# model writes the output bit it finds most likely.

# %%
# --8<-- [start:prompts]
import torch

from llm_evolution.data.tasks import decode
from llm_evolution.in_context import make_prompts

examples, queries, answers = make_prompts([rule], k=3, n_per_rule=2,
                                          generator=torch.Generator().manual_seed(0))


def as_bits(ids: torch.Tensor) -> str:
    return "".join(str(bit) for bit in ids.tolist())


for shown, query, answer in zip(examples, queries, answers):
    print(f"examples {decode(shown)}   query {as_bits(query)}   expected {as_bits(answer)}")
# --8<-- [end:prompts]

# %% [markdown]
# ## The trained model
#
# `zoo.get` trains it on first use, then loads it from the cache.

# %%
# --8<-- [start:model]
from llm_evolution import zoo

trained = zoo.get("icl-gpt")
model, history = trained.model, trained.history
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} parameters, {history.steps[-1]} steps")
print(f"held-out 8-shot accuracy during training: "
      f"{[round(a, 2) for a in history.metrics['held_out_8_shot']]}")
# --8<-- [end:model]

# %% [markdown]
# ## Accuracy against the number of examples in the prompt
#
# Three evaluation seeds, each a fresh draw of examples and queries for every rule.

# %%
# --8<-- [start:curve]
from llm_evolution.in_context import best_possible_accuracy
from llm_evolution.in_context_scores import accuracy_by_examples

table = accuracy_by_examples()  # held-out rules and 64 of the training rules, 3 seeds each
print("examples  held-out rules   training rules   best possible")
for k, per_seed in table["held-out rules"].items():
    held_out, seen = torch.tensor(per_seed), torch.tensor(table["training rules"][k])
    print(f"{k:8}  {held_out.mean():6.1%} ± {held_out.std():4.1%}   "
          f"{seen.mean():6.1%} ± {seen.std():4.1%}   {best_possible_accuracy(k):6.1%}")
# --8<-- [end:curve]

# %% [markdown]
# ## Where the model looks
#
# For each head: the attention weight a query bit puts on its induction targets, the output
# bits of earlier examples at its position whose input bit matches its own.

# %%
# --8<-- [start:induction]
from llm_evolution.induction import induction_prompts, induction_share

prompt_ids = induction_prompts(held_out_rules, k=8)  # 8 prompts for each held-out rule
share = induction_share(model, prompt_ids, k=8)
print(f"{prompt_ids.size(0)} prompts of 8 examples; spread evenly, a query bit would put "
      f"{share['if even'][0, 0]:.2f} on the matching outputs")
print("attention on earlier outputs at the query bit's position, matching / other")
n_heads = share["matching"].size(1)
print("layer" + "".join(f"{f'head {head + 1}':>13}" for head in range(n_heads)))
for layer in range(share["matching"].size(0)):
    print(f"{layer + 1:5}" + "".join(
        f"  {share['matching'][layer, head]:.2f} / {share['other'][layer, head]:.2f}"
        for head in range(n_heads)))
# --8<-- [end:induction]

# %% [markdown]
# ## Fine-tuning on the same examples
#
# For every held-out rule and three draws of k examples: a copy of the model takes gradient
# steps on the k examples alone, then answers every query with an empty prompt; the unchanged
# model answers with the k examples in its prompt.

# %%
# --8<-- [start:fine_tune]
from llm_evolution.few_shot_tuning import fine_tuning_table

table = fine_tuning_table()  # every held-out rule, three draws of examples
print("examples   in context         fine-tuned       (mean over 64 rules; ± over 3 draws)")
for k, row in table.items():
    in_context, fine_tuned = torch.tensor(row["in context"]), torch.tensor(row["fine-tuned"])
    print(f"{k:8}   {in_context.mean():6.1%} ± {in_context.std():4.1%}   "
          f"{fine_tuned.mean():6.1%} ± {fine_tuned.std():4.1%}")
# --8<-- [end:fine_tune]

# %% [markdown]
# ## A prompt in words
#
# Three solved examples and a query, in words, for chapter 6's two GPTs.

# %%
# --8<-- [start:words]
from llm_evolution.data.text import bpe_corpus, char_corpus
from llm_evolution.generation import generate

NAMES = ["HAMLET", "OTHELLO", "ROMEO", "JULIET", "MACBETH", "HORATIO", "IAGO", "BANQUO"]
for name, corpus in (("gpt-char", char_corpus()), ("gpt-bpe", bpe_corpus())):
    gpt, tokenizer = zoo.get(name).model, corpus.tokenizer
    continued = 0
    for i, query in enumerate(NAMES):  # three other names as examples, then the query
        shown = [other for other in NAMES if other != query][i % 5 : i % 5 + 3]
        prompt = "".join(f"{other}. {other.title()}\n" for other in shown) + f"{query}."
        prompt_ids = torch.tensor([tokenizer.encode(prompt)])
        out = generate(gpt, prompt_ids, 12, greedy=True)
        written = tokenizer.decode(out[0, prompt_ids.size(1):].tolist())
        continued += written.startswith(" " + query.title())
        if i == 0:
            print(f"{name}: {prompt!r} -> {written!r}")
    print(f"{name}: continued the pattern in {continued} of {len(NAMES)} prompts")
# --8<-- [end:words]
