# %% [markdown]
# # Chapter 12: What survived, what died
#
# The book's innovations, 2014 to 2023, and what became of each; chapter 6's GPT with each of
# today's replacements in turn (RoPE, RMSNorm, SwiGLU, no biases, grouped-query attention)
# and all of them together, checked against transformers' Llama and measured with three
# seeds; and what training compute means under today's rules.

# %%
# --8<-- [start:innovations]
from llm_evolution.innovations import FATES, INNOVATIONS

for fate in FATES:
    items = sorted((item for item in INNOVATIONS if item.fate == fate), key=lambda i: i.year)
    print(f"{fate} ({len(items)} of {len(INNOVATIONS)}):")
    for item in items:
        if item.successor:
            then = f" -> {item.successor} ({item.successor_year})"
        else:
            then = f", dropped by {item.ended_year}" if item.ended_year else ""
        print(f"  {item.year}  {item.name}{then}")
# --8<-- [end:innovations]

# %%
# --8<-- [start:llama]
import torch

from llm_evolution import zoo
from llm_evolution.data.text import char_corpus
from llm_evolution.interop.llama import to_llama

model = zoo.get("ablation-llama-seed0").model  # every switch on, trained below
llama = to_llama(model)  # transformers' LlamaForCausalLM holding the same weights
tokenizer = char_corpus().tokenizer
prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])
with torch.no_grad():
    ours = model(prompt)[0]
    theirs = llama(prompt).logits
    tokens = prompt
    for _ in range(40):  # greedy decoding with our model
        tokens = torch.cat((tokens, model(tokens)[0][:, -1:].argmax(-1)), dim=1)
    their_tokens = llama.generate(prompt, max_new_tokens=40, do_sample=False,
                                  attention_mask=torch.ones_like(prompt), pad_token_id=0)
print("the same logits (within 1e-5):", torch.allclose(ours, theirs, atol=1e-5, rtol=1e-5))
print("the same 40 greedy characters:", torch.equal(tokens, their_tokens))
print(repr(tokenizer.decode(tokens[0].tolist())))
# --8<-- [end:llama]

# %%
# --8<-- [start:ablations]
from llm_evolution.ablations import ablation_table
from llm_evolution.recipes.chapter12 import SEEDS, VARIANTS, ablation_name

for variant in VARIANTS:  # 7 variants x 3 seeds, trained once into the model cache
    for seed in SEEDS:
        zoo.get(ablation_name(variant, seed))
print(f"held-out text: {len(char_corpus().val_ids):,} characters; loss in nats per character")
print(ablation_table())
# --8<-- [end:ablations]

# %%
# --8<-- [start:start]
from llm_evolution.timing import fresh_model

inputs = torch.tensor([tokenizer.encode("ROMEO:\nO, she doth teach the torches to burn bright!")])
for variant in ("gpt-2", "swiglu"):
    model = fresh_model(ablation_name(variant, 0))  # as initialised, before any training
    updates = []  # what each block's feed-forward network adds to the residual stream
    hooks = [block.mlp.register_forward_hook(lambda module, args, out: updates.append(out))
             for block in model.blocks]
    with torch.no_grad():
        model(inputs)
    for hook in hooks:
        hook.remove()
    sizes = ", ".join(f"{update.std():.1e}" for update in updates)
    print(f"{variant:<7} feed-forward output at initialisation, std per block: {sizes}")

print("held-out loss during training, every 100 steps (10 held-out batches):")
for variant in VARIANTS:
    for seed in SEEDS:
        curve = zoo.get(ablation_name(variant, seed)).history.val_loss
        print(f"  {variant:<10} seed {seed}  " + " ".join(f"{loss:.2f}" for loss in curve))
# --8<-- [end:start]

# %%
# --8<-- [start:published]
from llm_evolution.ablations import PUBLISHED

for source, setting, measure, values in PUBLISHED:
    print(f"{source} ({setting}), {measure}:")
    print("   " + ", ".join(f"{variant} {value}" for variant, value in values))
# --8<-- [end:published]

# %%
# --8<-- [start:speed]
from llm_evolution.ablations import spread, step_milliseconds

rounds = step_milliseconds()  # three rounds, each timing every variant once
for variant, milliseconds in rounds.items():
    mean, deviation = spread(milliseconds)
    ratios = [ms / base for ms, base in zip(milliseconds, rounds["gpt-2"])]
    print(f"{variant:<10} {mean:5.1f} ms ± {deviation:.1f} ms per training step, "
          f"{min(ratios):.2f}x to {max(ratios):.2f}x gpt-2's in the same round")
# --8<-- [end:speed]

# %%
# --8<-- [start:compute]
from llm_evolution.ablations import ablation_compute
from llm_evolution.scaling import training_flops as six_n_d
from llm_evolution.published_models import (
    EU_AI_ACT_THRESHOLD_FLOPS,
    LLAMA_3_405B,
    PUBLISHED_MODELS,
)

ours = ablation_compute()
gpt3 = next(m for m in PUBLISHED_MODELS if m.name == "GPT-3")
print(f"{'training compute':<34} {'FLOPs':>9} {'x ours':>9} {'x the line':>10}")
for name, flops in (("our 21 ablation runs (6ND)", ours), ("GPT-3, 2020 (its paper)", gpt3.flops),
                    ("Llama 3 405B, 2024 (its paper)", LLAMA_3_405B.flops),
                    ("the EU AI Act's line", EU_AI_ACT_THRESHOLD_FLOPS)):
    line = flops / EU_AI_ACT_THRESHOLD_FLOPS
    print(f"{name:<34} {flops:>9.2g} {flops / ours:>9.1e} {line:>10.1e}")
llama3 = LLAMA_3_405B
print(f"Llama 3 405B: {llama3.parameters:.3g} parameters x {llama3.tokens:.3g} tokens x 6 = "
      f"{six_n_d(llama3.parameters, llama3.tokens):.2g} FLOPs")
# --8<-- [end:compute]
