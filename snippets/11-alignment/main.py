# %% [markdown]
# # Chapter 11: Alignment, from InstructGPT to ChatGPT
#
# Chapter 10's instruction-tuned GPT taken through InstructGPT's three steps: supervised
# fine-tuning on conversations, a reward model trained on a rater's preferences between two
# of its answers, and PPO against that reward with a KL penalty; then DPO on the same pairs,
# and a conversation with each model.

# %%
# --8<-- [start:conversations]
from llm_evolution.data.conversations import conversations
from llm_evolution.instruction_tuning import chat_tokenizer

tokenizer = chat_tokenizer()
for turns in conversations(3):
    print(repr(tokenizer.decode(tokenizer.encode_chat(turns)[0])))
# --8<-- [end:conversations]

# %%
# --8<-- [start:rater]
from llm_evolution.rater import judge

# The task "Give the last word.\n to be or not", whose right response is "not":
for answer, ends in ((" not", True), (" Sure! not", True), (" The answer is: not", True),
                     (" be", True), (" not not not not", False)):
    judgement = judge(answer, ends, "not")
    print(f"{answer!r:22} right={judgement.correct!s:5} ends={ends!s:5} "
          f"extra words={judgement.extra_words}  score {judgement.score:.1f}")
# --8<-- [end:rater]

# %%
# --8<-- [start:pairs]
from llm_evolution.alignment import answer_text
from llm_evolution.recipes.chapter11 import HELD_OUT_PROMPTS, PREFERENCE_PROMPTS, labeled_pairs

pairs = labeled_pairs()
print(f"{len(pairs):,} labeled pairs from {PREFERENCE_PROMPTS - HELD_OUT_PROMPTS:,} prompts "
      f"(ties left out; {HELD_OUT_PROMPTS} more prompts held out); "
      f"{sum(p.label_right for p in pairs) / len(pairs):.1%} of labels agree with the rules")
for pair in pairs[:4]:
    print(f"{pair.example.prompt()!r}")
    print(f"   chosen   {answer_text(pair.chosen, tokenizer)!r}"
          f"{'' if pair.chosen.ends else ' (no end)'}")
    print(f"   rejected {answer_text(pair.rejected, tokenizer)!r}"
          f"{'' if pair.rejected.ends else ' (no end)'}"
          f"{'' if pair.label_right else '   <- a noisy label'}")
# --8<-- [end:pairs]

# %%
# --8<-- [start:reward_model]
from llm_evolution.alignment_results import PUBLISHED, reward_model_table

table = reward_model_table()
print(f"held-out pairs: {table['pairs']:.0f}; the labels agree with the rules on "
      f"{table['labels right']:.1%}, a second noisy labeling with the first on "
      f"{table['second labeling agrees']:.1%}")
print(f"{'reward model agrees with':26} {'labels':>7} {'rules':>7} {'pairs':>6}")
for part in ("all", "right vs wrong", "style only"):
    print(f"{part:26} {table[part + ': vs labels']:7.1%} {table[part + ': vs rules']:7.1%} "
          f"{table[part + ': pairs']:6.0f}")
print("with people, as published:")
for what, (share, source) in PUBLISHED.items():
    print(f"   {what}: {share:.1%} ({source})")
# --8<-- [end:reward_model]

# %%
# --8<-- [start:hacking]
from llm_evolution.alignment_results import hacking_examples

for row in hacking_examples()[:4]:
    print(f"{row['prompt']!r} (right: {row['response']!r})")
    for name in ("SFT", "PPO", "PPO, no KL"):
        answer = row[name]
        print(f"   {name:11} {answer['answer']!r:32} reward {answer['reward']:5.2f}  "
              f"rater {answer['rater']:5.2f}{'' if answer['ends'] else '  (no end)'}")
# --8<-- [end:hacking]

# %%
# --8<-- [start:policy_table]
from llm_evolution import zoo
from llm_evolution.alignment_results import (
    INSTRUCTGPT_KL_COEF,
    POLICIES,
    format_policy_table,
    policy_table,
)

configs = {name: zoo.find(POLICIES[name]).config for name in ("PPO", "PPO, no KL", "DPO")}
print("; ".join(f"{name}: beta = {config.get('kl_coef', config.get('beta'))}"
                for name, config in configs.items()))
print(f"InstructGPT's PPO: beta = {INSTRUCTGPT_KL_COEF[0]} ({INSTRUCTGPT_KL_COEF[1]})")
print(format_policy_table(policy_table()))
# --8<-- [end:policy_table]

# %%
# --8<-- [start:cost]
from llm_evolution.alignment_results import training_cost

for method, cost in training_cost().items():
    print(f"{method}: {cost['seconds']:.0f} s of training, {cost['megabytes']:.1f} MB "
          "of networks and optimizer state")
# --8<-- [end:cost]

# %%
# --8<-- [start:chat]
from llm_evolution.chat import Chat, load_chat_model

script = ["Hello!", "Give the last word.\n to be or not", "Thanks!"]
for name in ("base", "instruct-gpt", "sft-chat", "ppo-chat", "dpo-chat"):
    chat = Chat(*load_chat_model(name))
    print(f"{name}:")
    for text in script:
        answer = repr(chat.say(text))
        shown = answer if len(answer) <= 60 else answer[:56] + "...'"  # the base model rambles
        print(f"   user> {text!r}\n   {name}> {shown}")
# --8<-- [end:chat]
