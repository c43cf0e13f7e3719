# %% [markdown]
# # Chapter 10: Generalisation
#
# Tasks written as text, chapter 6's pretrained GPT tuned to follow their instructions, and
# measured on what it was not taught; the same tuning through LoRA adapters; and the same GPT's
# pretraining continued on a second domain, with and without replay of the first.

# %%
# --8<-- [start:tasks]
import random

from llm_evolution.data.instructions import CLUSTERS, TASKS, make_example

rng = random.Random(0)
for cluster in CLUSTERS:
    print(f"{cluster}:")
    for task in [t for t in TASKS if t.cluster == cluster]:
        example = make_example(task, 0, "train", rng)
        print(f"  {example.instruction!r} {example.input!r} -> {example.response!r}")
print("held-out phrasing of first_word:", repr(TASKS[0].phrasings[-1]))
# --8<-- [end:tasks]

# %%
# --8<-- [start:template]
from llm_evolution.data.instructions import TASK_BY_NAME
from llm_evolution.instruction_tuning import chat_tokenizer

tokenizer = chat_tokenizer()
example = make_example(TASK_BY_NAME["reverse_words"], 0, "train", random.Random(1))
ids, trained = tokenizer.encode_chat([("user", example.prompt()), ("assistant", example.reply())])
print(repr(tokenizer.decode(ids)))
print(f"{len(ids)} tokens, {sum(trained)} of them trained:",
      repr(tokenizer.decode([i for i, t in zip(ids, trained) if t])))
# --8<-- [end:template]

# %%
# --8<-- [start:before_after]
from llm_evolution.generalization import chapter_model
from llm_evolution.instruction_tuning import respond

prompts = ["Give the last word.\n to be or not", "Write the number in digits.\n forty two",
           "Tell me the first word.\n what is your name"]
for name in ("pretrained", "3 clusters"):
    model = chapter_model(name)
    print(f"{name}:")
    for prompt in prompts:
        print(f"  {prompt!r} -> {respond(model, tokenizer, prompt)!r}")
# --8<-- [end:before_after]

# %%
# --8<-- [start:table]
from llm_evolution.generalization import format_table, generalization_table

print(format_table(generalization_table()))
# --8<-- [end:table]

# %%
# --8<-- [start:per_task]
from llm_evolution.data.instructions import evaluation_examples
from llm_evolution.instruction_tuning import accuracy_by, exact_match

examples = [e for e in evaluation_examples(("words", "numbers", "plays")) if e.kind == "seen"]
right = exact_match(chapter_model("3 clusters"), examples, tokenizer)
chance = {"genre": "1 in 2", "which_play": "1 in 8"}
for task, accuracy in accuracy_by(examples, right, "task").items():
    print(f"{task:22} {100 * accuracy:5.1f}%  {chance.get(task, '')}")
# --8<-- [end:per_task]

# %%
# --8<-- [start:lora]
import copy

import torch

from llm_evolution import zoo
from llm_evolution.data.chat import CHAT_TOKENS
from llm_evolution.instruction_tuning import trainable_parameters
from llm_evolution.models.lora import add_lora, merge_lora, train_new_rows

full = chapter_model("pretrained")
adapted = add_lora(copy.deepcopy(full), rank=8, alpha=16)
train_new_rows(adapted.token_embedding, len(CHAT_TOKENS))
print(f"trainable parameters: full {trainable_parameters(full):,}, "
      f"LoRA {trainable_parameters(adapted):,}")
for name in ("instruct-gpt", "instruct-lora"):
    print(f"{name}: {zoo.get(name).history.train_loss[-1]:.3f} final training loss")

# Merging: B A added into W gives the same function as the adapter beside W.
with torch.no_grad():
    for module in adapted.modules():
        if hasattr(module, "lora_B"):
            module.lora_B.normal_(std=0.02, generator=torch.Generator().manual_seed(0))
ids = torch.tensor([tokenizer.encode_prompt([("user", prompts[0])])])
before = adapted(ids)[0]
after = merge_lora(adapted)(ids)[0]
print("merged equals adapter:", torch.allclose(before, after, rtol=0, atol=1e-5))
# --8<-- [end:lora]

# %%
# --8<-- [start:domain]
from llm_evolution.data.numpy_docs import docs_train_val, numpy_docstrings
from llm_evolution.generalization import domain_table

train_text, held_out_text = docs_train_val()
print(f"{len(numpy_docstrings())} docstrings: {len(train_text):,} characters to train on, "
      f"{len(held_out_text):,} held out")
print(f"{'bits per character':22} {'plays':>8} {'numpy docs':>11}")
for name, bits in domain_table().items():
    print(f"{name:22} {bits['plays']:8.2f} {bits['numpy docs']:11.2f}")
# --8<-- [end:domain]
