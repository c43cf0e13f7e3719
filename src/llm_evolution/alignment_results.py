"""Chapter 11's measurements, shared by its page and its figures: how well the reward model
learned the rater (:func:`reward_model_table`), how every tuned policy does by the rater's own
rules (:func:`policy_table`), what PPO without its KL penalty writes (:func:`hacking_examples`)
and what PPO and DPO cost (:func:`training_cost`).

Kept apart from the training code (:mod:`llm_evolution.alignment`) so that changing a
measurement does not retrain the models it measures. Each table is measured once per machine
and set of trained models.
"""

from __future__ import annotations

import random

import torch

from llm_evolution.alignment import (
    answer_text,
    answers_as_ids,
    pair_accuracy,
    prompt_ids,
    rate,
    sample_answers,
    token_log_probs,
)
from llm_evolution.evaluation import evaluating
from llm_evolution.instruction_tuning import chat_tokenizer
from llm_evolution.measurements import measured
from llm_evolution.rater import noisy, prefer

# The policies chapter 11 compares: name on the page -> recipe. Chapter 10's model, tuned on
# bare answers to single tasks, is the starting point of SFT.
POLICIES = {"chapter 10": "instruct-gpt", "SFT": "sft-chat", "PPO": "ppo-chat",
            "PPO, no KL": "ppo-no-kl", "DPO": "dpo-chat"}
POLICY_COLUMNS = ("win rate", "right", "rater score", "bare", "reward", "KL")
PER_TASK = 64  # held-out inputs per task for the page's tables: 8 tasks, 512 answers


# --8<-- [start:published]
# What the papers measured with people, to set beside our rater and reward model.
PUBLISHED = {
    "InstructGPT's training labelers agreed with each other":
        (0.726, "Ouyang et al., 2022, section 3.4"),
    "held-out labelers (hired apart) agreed with each other":
        (0.773, "Ouyang et al., 2022, section 3.4"),
    "InstructGPT's reward models agreed with the labelers they trained on":
        (0.724, "Ouyang et al., 2022, section 4.1"),
    "and with a held-out group of those labelers": (0.696, "Ouyang et al., 2022, section 4.1"),
    "news summaries (CNN/DM): labelers agreed with each other":
        (0.669, "Stiennon et al., 2020, section 4.3"),
    "and the 6.7B reward model with labelers": (0.665, "Stiennon et al., 2020, section 4.3"),
}
INSTRUCTGPT_KL_COEF = (0.02, "Ouyang et al., 2022, appendix C.4")  # beta, as in equation 2
# --8<-- [end:published]


def recipe_keys(*names: str) -> tuple[str, ...]:
    from llm_evolution import zoo

    return tuple(zoo.find(name).key() for name in names)


# --8<-- [start:reward_model_table]
def reward_model_table() -> dict[str, float]:
    """The reward model on the held-out pairs: how often it agrees with the noisy labels and
    with the rater's rules, on all pairs and split by what separates the two answers (one is
    right and the other wrong, or only style: lead-in words, a clean ending); and, for scale,
    how often a second noisy labeling agrees with the first."""
    return _reward_model_table(recipe_keys("reward-model"))


@measured  # seconds of sampling and scoring: once per machine and reward model
def _reward_model_table(model_keys: tuple[str, ...]) -> dict[str, float]:
    from llm_evolution import zoo
    from llm_evolution.recipes.chapter11 import labeled_pairs

    tokenizer = chat_tokenizer()
    reward_model = zoo.get("reward-model").model
    pairs = labeled_pairs(held_out=True)

    def correctness_differs(pair) -> bool:
        chosen, rejected = (rate(a, pair.example, tokenizer) for a in (pair.chosen, pair.rejected))
        return chosen.correct != rejected.correct

    split = {"right vs wrong": [p for p in pairs if correctness_differs(p)],
             "style only": [p for p in pairs if not correctness_differs(p)]}
    second_labeler = random.Random(2)  # a second labeler, as noisy as the first
    agree = 0
    for pair in pairs:
        truth = prefer(rate(pair.chosen, pair.example, tokenizer),
                       rate(pair.rejected, pair.example, tokenizer))
        first = truth if pair.label_right else -truth
        agree += noisy(truth, second_labeler) == first
    table = {"pairs": len(pairs),
             "labels right": sum(p.label_right for p in pairs) / len(pairs),
             "second labeling agrees": agree / len(pairs)}
    for name, subset in {"all": pairs, **split}.items():
        accuracy = pair_accuracy(reward_model, subset, tokenizer.end_id)
        table[f"{name}: pairs"] = len(subset)
        table[f"{name}: vs labels"] = accuracy["labels"]
        table[f"{name}: vs rules"] = accuracy["rules"]
    return {k: round(v, 4) for k, v in table.items()}
# --8<-- [end:reward_model_table]


# --8<-- [start:policy_table]
def policy_table() -> dict[str, dict[str, float]]:
    """Every policy of :data:`POLICIES` on the same 512 held-out tasks, one sampled answer
    each: the rater's win rate against SFT's answers, the share of right answers, the mean
    rater score, the share of bare answers (no lead-in), the reward model's mean score, and
    the mean KL from SFT per answer (summed over its tokens)."""
    return _policy_table(recipe_keys("reward-model", *POLICIES.values()))


@measured  # seconds of sampling: once per machine and set of trained models
def _policy_table(model_keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    from llm_evolution import zoo
    from llm_evolution.recipes.chapter11 import rater_evaluation

    evaluation = rater_evaluation(zoo.get("reward-model").model, PER_TASK)
    sft = zoo.get("sft-chat").model
    table = {}
    for name, recipe in POLICIES.items():
        policy = zoo.get(recipe).model
        row = evaluation(policy)
        row["KL"] = kl_from(policy, sft, evaluation.prompts, evaluation.answers(policy))
        table[name] = {column: round(row[column], 4) for column in POLICY_COLUMNS}
    return table
# --8<-- [end:policy_table]


@torch.no_grad()
def kl_from(policy, reference, prompts, answers) -> float:
    """The mean over answers (sampled from ``policy``) of log pi(answer) - log pi_ref(answer):
    an estimate of KL(policy || reference) per answer."""
    ids, lengths = answers_as_ids(prompts, answers, chat_tokenizer().end_id)
    starts = torch.tensor([len(p) for p in prompts])
    columns = torch.arange(ids.size(1) - 1)
    answer = (columns[None] >= starts[:, None] - 1) & (columns[None] < lengths[:, None] - 1)
    with evaluating(policy), evaluating(reference):
        difference = token_log_probs(policy, ids) - token_log_probs(reference, ids)
    return ((difference * answer).sum(dim=1)).mean().item()


def format_policy_table(table: dict[str, dict[str, float]]) -> str:
    """The policy table as text: shares in percent, scores and KL as numbers."""
    shares = {"win rate", "right", "bare"}
    width = max(map(len, table)) + 1
    lines = [f"{'model':{width}}" + "".join(f"{c:>{max(len(c), 6) + 2}}" for c in POLICY_COLUMNS)]
    for name, row in table.items():
        cells = []
        for column in POLICY_COLUMNS:
            cell_width = max(len(column), 6) + 2
            cells.append(f"{100 * row[column]:{cell_width - 1}.1f}%" if column in shares
                         else f"{row[column]:{cell_width}.2f}")
        lines.append(f"{name:{width}}" + "".join(cells))
    return "\n".join(lines)


# --8<-- [start:hacking_examples]
def hacking_examples(per_task: int = 1) -> list[dict]:
    """The first ``per_task`` held-out tasks of each task of the evaluation, answered by SFT,
    PPO and PPO without the KL penalty (one sampled answer each, the evaluation's seed): the
    prompt, and per model the answer, the reward model's score and the rater's score."""
    return _hacking_examples(recipe_keys("reward-model", *POLICIES.values()), per_task)


@measured  # seconds of sampling: once per machine and set of trained models
def _hacking_examples(model_keys: tuple[str, ...], per_task: int) -> list[dict]:
    from llm_evolution import zoo
    from llm_evolution.recipes.chapter11 import rater_evaluation

    tokenizer = chat_tokenizer()
    evaluation = rater_evaluation(per_task=PER_TASK)
    reward_model = zoo.get("reward-model").model
    chosen, seen = [], {}
    for i, example in enumerate(evaluation.examples):
        if seen.get(example.task, 0) < per_task:
            seen[example.task] = seen.get(example.task, 0) + 1
            chosen.append(i)
    rows = [{"prompt": evaluation.examples[i].prompt(),
             "response": evaluation.examples[i].response} for i in chosen]
    for name in ("SFT", "PPO", "PPO, no KL"):
        answers = evaluation.answers(zoo.get(POLICIES[name]).model)
        answers = [answers[i] for i in chosen]
        prompts = [evaluation.prompts[i] for i in chosen]
        with evaluating(reward_model), torch.no_grad():
            rewards = reward_model(*answers_as_ids(prompts, answers, tokenizer.end_id))
        for row, i, answer, reward in zip(rows, chosen, answers, rewards.tolist()):
            row[name] = {"answer": answer_text(answer, tokenizer), "ends": answer.ends,
                         "reward": round(reward, 3),
                         "rater": round(rate(answer, evaluation.examples[i], tokenizer).score, 3)}
    return rows
# --8<-- [end:hacking_examples]


# --8<-- [start:training_cost]
def training_cost(repeats: int = 5) -> dict[str, dict[str, float]]:
    """What PPO and DPO cost on this machine, from the same SFT model and the same pairs.

    Time: seconds per update, timed over ``repeats`` updates after one to warm up, times the
    updates each recipe takes (evaluations and the sampling of the pairs left out). PPO's updates are the reward model's steps and then PPO's
    iterations (sample 64 answers, score them, then the recipe's passes of two minibatches); DPO's are its
    steps, after one pass of the reference over the pairs. Memory: the float32 megabytes of
    the networks and optimizer state each keeps while it trains. PPO keeps the policy with
    its value head, their gradients and AdamW's two moments, plus a frozen reference and the
    reward model; DPO keeps the policy, its gradients and moments (the reference is needed
    only once, before training)."""
    return _training_cost(recipe_keys("reward-model", "ppo-chat", "dpo-chat"), repeats)


@measured  # a timing: once per machine
def _training_cost(model_keys: tuple[str, ...], repeats: int) -> dict[str, dict[str, float]]:
    import copy
    import time

    from llm_evolution import zoo
    from llm_evolution.alignment import (
        DPOLoss,
        PPOConfig,
        PreferenceLoss,
        pair_tensors,
        ppo,
        reward_batches,
        row_batches,
        with_reference,
    )
    from llm_evolution.data.conversations import preference_examples
    from llm_evolution.recipes import chapter11
    from llm_evolution.training import train

    tokenizer = chat_tokenizer()
    sft = zoo.get("sft-chat").model
    reward_model = zoo.get("reward-model").model
    tensors = pair_tensors(chapter11.labeled_pairs(), tokenizer.end_id)

    def seconds(run, warm_up=None) -> float:
        if warm_up is not None:
            warm_up()
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    rm_config, ppo_config, dpo_config = (
        chapter11.REWARD.config, chapter11.PPO.config, chapter11.DPO.config)
    def train_reward_model(steps):
        return train(PreferenceLoss(copy.deepcopy(reward_model)),
                     reward_batches(tensors, rm_config["batch_size"]), steps=steps,
                     lr=rm_config["lr"], progress=False)

    def train_ppo(iterations):
        return ppo(copy.deepcopy(sft), sft, reward_model, prompts, tokenizer.end_id,
                   PPOConfig(iterations=iterations, kl_coef=ppo_config["kl_coef"],
                             lr=ppo_config["lr"], epochs=ppo_config["epochs"]),
                   progress=False)

    def train_dpo(steps):
        return train(DPOLoss(copy.deepcopy(sft), dpo_config["beta"]),
                     row_batches(dpo_tensors, dpo_config["batch_size"]), steps=steps,
                     lr=dpo_config["lr"], progress=False)

    rm_step = seconds(lambda: train_reward_model(repeats),
                      lambda: train_reward_model(1)) / repeats
    prompts = [prompt_ids(e, tokenizer) for e in
               preference_examples(chapter11.PREFERENCE_PROMPTS)[:-chapter11.HELD_OUT_PROMPTS]]
    ppo_iteration = seconds(lambda: train_ppo(repeats), lambda: train_ppo(1)) / repeats
    reference_pass = seconds(lambda: with_reference(sft, tensors))
    dpo_tensors = with_reference(sft, tensors)
    dpo_step = seconds(lambda: train_dpo(repeats), lambda: train_dpo(1)) / repeats

    def megabytes(parameters: int) -> float:
        return round(4 * parameters / 1e6, 2)

    network = sum(p.numel() for p in sft.parameters())
    trained_ppo = network + sft.config.d_model + 1  # the policy and its value head
    reward_network = sum(p.numel() for p in reward_model.parameters())
    return {
        "PPO": {"seconds": rm_step * rm_config["steps"] + ppo_iteration * ppo_config["iterations"],
                "megabytes": megabytes(4 * trained_ppo + network + reward_network)},
        "DPO": {"seconds": reference_pass + dpo_step * dpo_config["steps"],
                "megabytes": megabytes(4 * network)},
    }
# --8<-- [end:training_cost]
