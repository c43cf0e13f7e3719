"""Chapter 11's trained models, InstructGPT's three steps and DPO, each starting from the last
step's cached model: ``sft-chat`` (chapter 10's ``instruct-gpt`` fine-tuned on
conversations), ``reward-model`` (trained on the rater's labels of pairs of the SFT model's
answers), ``ppo-chat`` (PPO against the reward model with a KL penalty to SFT), ``ppo-no-kl``
(the same without the penalty) and ``dpo-chat`` (DPO on the same pairs)."""

from __future__ import annotations

from llm_evolution import zoo
from llm_evolution.alignment import (
    DPOLoss,
    PPOConfig,
    PreferenceLoss,
    RaterEvaluation,
    encode_conversations,
    pair_accuracy,
    pair_tensors,
    ppo,
    preference_pairs,
    prompt_ids,
    reward_batches,
    row_batches,
    with_reference,
)
from llm_evolution.data.conversations import (
    ASSISTANT_CLUSTERS,
    conversations,
    preference_examples,
)
from llm_evolution.data.instructions import evaluation_examples, fingerprint
from llm_evolution.instruction_tuning import ResponseLoss, chat_tokenizer, example_batches
from llm_evolution.models.gpt import GPT
from llm_evolution.models.reward import RewardModel
from llm_evolution.recipes.chapter10 import build_chat_gpt
from llm_evolution.training import History, train
from llm_evolution.zoo import Recipe, register

PREFERENCE_PROMPTS = 3000  # tasks whose pairs of answers are labeled
HELD_OUT_PROMPTS = 450  # of them, the last: pairs the reward model and DPO never train on
EVALUATION_PER_TASK = 16  # held-out inputs per task for the curves while training: 128 answers


def build_chat_model(config: dict) -> GPT:
    """Chapter 10's GPT: chapter 6's shape, with the chat tokens."""
    return build_chat_gpt(config)


def build_reward_model(config: dict) -> RewardModel:
    """The same network with a scalar head (the reward model)."""
    return RewardModel(build_chat_gpt(config).config)


def sft_model() -> GPT:
    return zoo.get("sft-chat").model


def rater_evaluation(reward_model: RewardModel | None = None,
                     per_task: int = EVALUATION_PER_TASK) -> RaterEvaluation:
    """Held-out tasks (``per_task`` inputs for each task), on which a tuned policy is judged
    against the SFT model's answers."""
    examples = [e for e in evaluation_examples(ASSISTANT_CLUSTERS, per_task)
                if e.kind == "seen"]
    return RaterEvaluation(examples, chat_tokenizer(), sft_model(), reward_model)


def labeled_pairs(held_out: bool = False):
    """The SFT model's pairs of answers, labeled by the rater: those to train on, or the
    held-out ones."""
    examples = preference_examples(PREFERENCE_PROMPTS)
    split = len(examples) - HELD_OUT_PROMPTS
    chosen = examples[split:] if held_out else examples[:split]
    return preference_pairs(sft_model(), chosen, chat_tokenizer(), seed=int(held_out))


# --8<-- [start:sft_recipe]
def fit_sft(model: GPT, config: dict, seed: int) -> History:
    """Start from chapter 10's ``instruct-gpt`` and fine-tune it on conversations, the loss
    on the assistant's turns only."""
    model.load_state_dict(zoo.get("instruct-gpt").model.state_dict())
    encoded = encode_conversations(conversations(config["conversations"]), chat_tokenizer(),
                                   model.config.context_size)
    return train(ResponseLoss(model), example_batches(encoded, config["batch_size"]),
                 steps=config["steps"], lr=config["lr"], warmup_steps=config["steps"] // 10,
                 lr_decay=True, eval_every=config["steps"] // 8, seed=seed, desc=config["name"])
# --8<-- [end:sft_recipe]


# --8<-- [start:reward_recipe]
def fit_reward_model(model: RewardModel, config: dict, seed: int) -> History:
    """The SFT network with a new scalar head, trained on the labeled pairs with the
    Bradley-Terry loss; its accuracy on held-out pairs is recorded as it trains."""
    model.gpt.load_state_dict(sft_model().state_dict())
    tensors = pair_tensors(labeled_pairs(), chat_tokenizer().end_id)
    held_out = labeled_pairs(held_out=True)
    return train(PreferenceLoss(model), reward_batches(tensors, config["batch_size"]),
                 steps=config["steps"], lr=config["lr"], warmup_steps=config["steps"] // 10,
                 lr_decay=True, eval_every=config["steps"] // 5, seed=seed, desc=config["name"],
                 eval_metrics=lambda _: pair_accuracy(model, held_out, chat_tokenizer().end_id))
# --8<-- [end:reward_recipe]


# --8<-- [start:ppo_recipe]
def fit_ppo(model: GPT, config: dict, seed: int) -> History:
    """Start from ``sft-chat`` and run PPO against ``reward-model``, penalised by the KL from
    a frozen copy of ``sft-chat``; judged by the rater as it trains."""
    model.load_state_dict(sft_model().state_dict())
    reward_model = zoo.get("reward-model").model
    examples = preference_examples(PREFERENCE_PROMPTS)[:-HELD_OUT_PROMPTS]
    prompts = [prompt_ids(e, chat_tokenizer()) for e in examples]
    settings = PPOConfig(iterations=config["iterations"], kl_coef=config["kl_coef"],
                         lr=config["lr"], epochs=config["epochs"],
                         eval_every=config["iterations"] // 8)
    return ppo(model, sft_model(), reward_model, prompts, chat_tokenizer().end_id, settings,
               seed=seed, evaluate=rater_evaluation(reward_model), desc=config["name"])
# --8<-- [end:ppo_recipe]


# --8<-- [start:dpo_recipe]
def fit_dpo(model: GPT, config: dict, seed: int) -> History:
    """Start from ``sft-chat`` and train it by DPO on the labeled pairs the reward model
    learned from, the frozen
    ``sft-chat`` as the reference; judged by the rater as it trains."""
    model.load_state_dict(sft_model().state_dict())
    tensors = with_reference(sft_model(), pair_tensors(labeled_pairs(), chat_tokenizer().end_id))
    evaluation = rater_evaluation()
    return train(DPOLoss(model, config["beta"]), row_batches(tensors, config["batch_size"]),
                 steps=config["steps"], lr=config["lr"], eval_every=config["steps"] // 5,
                 seed=seed, desc=config["name"], eval_metrics=lambda _: evaluation(model))
# --8<-- [end:dpo_recipe]


def pairs_fingerprint() -> str:
    """The prompts the pairs answer and the tasks the win rates use; the pairs themselves
    follow from these and the SFT model, whose key is added by each recipe."""
    examples = preference_examples(PREFERENCE_PROMPTS)
    evaluation = evaluation_examples(ASSISTANT_CLUSTERS, EVALUATION_PER_TASK)
    return fingerprint(examples + evaluation)


def chapter11_recipe(name: str, build, fit, config: dict, needs: tuple[str, ...],
                     description: str) -> Recipe:
    def data_fingerprint() -> str:
        return pairs_fingerprint() + "".join(zoo.find(n).key() for n in needs)

    return Recipe(name=name, build=build, fit=fit, config={"name": name, **config}, seed=0,
                  data_fingerprint=data_fingerprint, needs=needs,
                  description=f"Chapter 11: {description}")


# --8<-- [start:recipes]
SFT = chapter11_recipe(
    "sft-chat", build_chat_model, fit_sft,
    {"conversations": 4000, "batch_size": 16, "steps": 400, "lr": 1e-3}, ("instruct-gpt",),
    "instruct-gpt fine-tuned on conversations (SFT).")
REWARD = chapter11_recipe(
    "reward-model", build_reward_model, fit_reward_model,
    {"batch_size": 32, "steps": 150, "lr": 1e-4}, ("sft-chat",),
    "sft-chat with a scalar head, trained on the rater's labeled pairs.")
PPO = chapter11_recipe(
    "ppo-chat", build_chat_model, fit_ppo,
    {"iterations": 80, "kl_coef": 0.1, "lr": 2e-4, "epochs": 2}, ("sft-chat", "reward-model"),
    "sft-chat tuned by PPO against reward-model, KL penalty 0.1.")
PPO_NO_KL = chapter11_recipe(
    "ppo-no-kl", build_chat_model, fit_ppo,
    {"iterations": 80, "kl_coef": 0.0, "lr": 2e-4, "epochs": 2}, ("sft-chat", "reward-model"),
    "the same PPO without the KL penalty.")
DPO = chapter11_recipe(
    "dpo-chat", build_chat_model, fit_dpo,
    {"batch_size": 32, "steps": 100, "lr": 1e-4, "beta": 0.1}, ("sft-chat",),
    "sft-chat trained by DPO on the same labeled pairs.")
# --8<-- [end:recipes]
for recipe in (SFT, REWARD, PPO, PPO_NO_KL, DPO):
    register(recipe)
