"""Alignment (chapter 11): from an instruction-tuned GPT to one tuned on preferences.

InstructGPT's recipe (Ouyang et al., 2022) in three steps, each starting from the last one's
model: supervised fine-tuning on conversations (SFT); a reward model trained on which of two
answers a labeler preferred; and PPO (Schulman et al., 2017) to make the SFT model write
answers the reward model scores high, with a penalty for drifting from the SFT model (Ziegler
et al., 2019). DPO (Rafailov et al., 2023) then reaches the same goal from the same pairs
with one loss and no reward model. The labeler is :mod:`llm_evolution.rater`, a program.

Every answer here is sampled with the KV cache of :func:`llm_evolution.generation.generate`.
Our GPT has learned positions and no padding mask, so prompts of one length are sampled
together (:func:`sample_answers` groups them), and answers are padded at the end, where the
causal mask keeps padding out of every real token's view.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from llm_evolution.data.chat import ChatTokenizer, Turn
from llm_evolution.data.conversations import STYLES
from llm_evolution.data.instructions import Example
from llm_evolution.evaluation import evaluating
from llm_evolution.generation import generate
from llm_evolution.models.gpt import GPT
from llm_evolution.models.reward import RewardModel, ScalarHead
from llm_evolution.rater import judge, noisy, prefer
from llm_evolution.training import Batch, BatchFn, History, make_optimizer, train_step

MAX_ANSWER_TOKENS = 20  # the longest right answer and its style's words are 19 tokens


# ================================================================ step 1: SFT
# --8<-- [start:encode_conversations]
def encode_conversations(conversations: Sequence[Sequence[Turn]], tokenizer: ChatTokenizer,
                         context_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, targets, trained) as chapter 10's ``encode_examples`` makes them, for
    conversations of any number of turns: every assistant turn is trained. Conversations
    longer than the context are left out (:func:`fitting`)."""
    rows = [tokenizer.encode_chat(turns) for turns in fitting(conversations, tokenizer,
                                                               context_size)]
    length = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), length), tokenizer.end_id)
    trained = torch.zeros(len(rows), length, dtype=torch.bool)
    for row, (tokens, mask) in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        trained[row, : len(mask)] = torch.tensor(mask)
    return ids[:, :-1], ids[:, 1:], trained[:, 1:]
# --8<-- [end:encode_conversations]


def fitting(conversations: Sequence[Sequence[Turn]], tokenizer: ChatTokenizer,
            context_size: int) -> list[Sequence[Turn]]:
    """The conversations whose tokens fit a model of ``context_size`` (one more than it: the
    last token is only a target)."""
    return [turns for turns in conversations
            if len(tokenizer.encode_chat(turns)[0]) <= context_size + 1]


# ================================================================ sampling answers
@dataclass(frozen=True)
class Answer:
    """An answer's token ids, ``<|end|>`` included when the model wrote it (``ends``)."""

    ids: tuple[int, ...]
    ends: bool


def prompt_ids(example: Example, tokenizer: ChatTokenizer) -> list[int]:
    """The ids a model continues from to answer ``example``: its user turn, then
    ``<|assistant|>``."""
    return tokenizer.encode_prompt([("user", example.prompt())])


def cut_answer(new_ids: Sequence[int], end_id: int) -> Answer:
    """The answer in ``new_ids``: up to and including the first ``<|end|>``, if any."""
    new_ids = list(new_ids)
    if end_id in new_ids:
        return Answer(tuple(new_ids[: new_ids.index(end_id) + 1]), True)
    return Answer(tuple(new_ids), False)


# --8<-- [start:sample_answers]
def sample_answers(model: GPT, prompts: Sequence[Sequence[int]], end_id: int, *,
                   generator: torch.Generator | None = None, greedy: bool = False,
                   max_new_tokens: int = MAX_ANSWER_TOKENS, batch_size: int = 256
                   ) -> list[Answer]:
    """One answer to each prompt, sampled at temperature 1 with ``generator`` (or greedy).
    Prompts of one length are generated as one batch, in order of length."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, prompt in enumerate(prompts):
        by_length[len(prompt)].append(i)
    answers: list[Answer | None] = [None] * len(prompts)
    for length in sorted(by_length):
        rows = by_length[length]
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ids = torch.tensor([list(prompts[i]) for i in chunk])
            new = generate(model, ids, max_new_tokens, greedy=greedy, generator=generator)
            for i, tokens in zip(chunk, new[:, length:].tolist()):
                answers[i] = cut_answer(tokens, end_id)
    return answers  # type: ignore[return-value]
# --8<-- [end:sample_answers]


def answer_text(answer: Answer, tokenizer: ChatTokenizer) -> str:
    """An answer's words, without ``<|end|>``."""
    ids = answer.ids[:-1] if answer.ends else answer.ids
    return tokenizer.decode(ids)


def rate(answer: Answer, example: Example, tokenizer: ChatTokenizer):
    """The rater's :class:`~llm_evolution.rater.Judgement` of ``answer`` to ``example``."""
    return judge(answer_text(answer, tokenizer), answer.ends, example.response)


# ================================================================ step 2: preferences
# --8<-- [start:preference_pairs]
@dataclass(frozen=True)
class Pair:
    """Two answers to ``example``'s prompt, as labeled: ``chosen`` over ``rejected``.
    ``label_right`` says whether the (noisy) label agrees with the rater's rules."""

    example: Example
    prompt: tuple[int, ...]
    chosen: Answer
    rejected: Answer
    label_right: bool


def preference_pairs(model: GPT, examples: Sequence[Example], tokenizer: ChatTokenizer,
                     seed: int) -> list[Pair]:
    """Two sampled answers of ``model`` to each example, labeled by the rater with its label
    noise. Pairs the rater scores equal (two wrong answers alike, say) are left out, as
    InstructGPT dropped ties (Ouyang et al., 2022, appendix C.2)."""
    generator = torch.Generator().manual_seed(seed)
    prompts = [prompt_ids(e, tokenizer) for e in examples]
    first = sample_answers(model, prompts, tokenizer.end_id, generator=generator)
    second = sample_answers(model, prompts, tokenizer.end_id, generator=generator)
    labeler = random.Random(seed)
    pairs = []
    for prompt, example, a, b in zip(prompts, examples, first, second):
        truth = prefer(rate(a, example, tokenizer), rate(b, example, tokenizer))
        if truth == 0:
            continue
        label = noisy(truth, labeler)
        chosen, rejected = (a, b) if label > 0 else (b, a)
        pairs.append(Pair(example, tuple(prompt), chosen, rejected, label == truth))
    return pairs
# --8<-- [end:preference_pairs]


def pair_tensors(pairs: Sequence[Pair], pad_id: int) -> dict[str, torch.Tensor]:
    """The pairs as padded tensors: for ``chosen`` and ``rejected`` each, the prompt and answer
    ids (``*_ids``), their lengths (``*_lengths``) and which next-token targets are the
    answer's (``*_answer``, aligned with ``ids[:, 1:]``)."""
    tensors = {}
    for side in ("chosen", "rejected"):
        rows = [list(p.prompt) + list(getattr(p, side).ids) for p in pairs]
        length = max(map(len, rows))
        ids = torch.full((len(rows), length), pad_id)
        answer = torch.zeros(len(rows), length - 1, dtype=torch.bool)
        for row, (tokens, pair) in enumerate(zip(rows, pairs)):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            answer[row, len(pair.prompt) - 1 : len(tokens) - 1] = True
        tensors[f"{side}_ids"] = ids
        tensors[f"{side}_lengths"] = torch.tensor([len(t) for t in rows])
        tensors[f"{side}_answer"] = answer
    return tensors


def row_batches(tensors: Sequence[torch.Tensor], batch_size: int) -> BatchFn:
    """Batches of ``batch_size`` random rows (drawn without replacement within a batch) of
    tensors that share their first dimension."""
    n = len(tensors[0])
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size={batch_size} must be between 1 and the {n} rows")

    def get_batch(generator: torch.Generator) -> Batch:
        rows = torch.randperm(n, generator=generator)[:batch_size]
        return tuple(t[rows] for t in tensors)

    return get_batch


# ================================================================ step 2: the reward model
# --8<-- [start:bradley_terry]
def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """-log P(chosen preferred), where P = sigmoid(r_chosen - r_rejected): the Bradley-Terry
    model of paired comparisons (1952), InstructGPT's reward-model loss, averaged."""
    return -F.logsigmoid(chosen - rejected).mean()


class PreferenceLoss(nn.Module):
    """A reward model trained on pairs: ``(chosen_ids, chosen_lengths, rejected_ids,
    rejected_lengths) -> (margins, loss)``."""

    def __init__(self, reward_model: RewardModel):
        super().__init__()
        self.reward_model = reward_model

    def forward(self, chosen_ids, chosen_lengths, rejected_ids, rejected_lengths):
        chosen = self.reward_model(chosen_ids, chosen_lengths)
        rejected = self.reward_model(rejected_ids, rejected_lengths)
        return chosen - rejected, bradley_terry_loss(chosen, rejected)
# --8<-- [end:bradley_terry]


def reward_batches(tensors: dict[str, torch.Tensor], batch_size: int) -> BatchFn:
    """Batches of ``batch_size`` random pairs for :class:`PreferenceLoss`, cut to their
    longest answer."""
    rows = row_batches([tensors[k] for k in ("chosen_ids", "chosen_lengths", "rejected_ids",
                                             "rejected_lengths")], batch_size)

    def get_batch(generator: torch.Generator) -> Batch:
        chosen_ids, chosen_lengths, rejected_ids, rejected_lengths = rows(generator)
        return (chosen_ids[:, : int(chosen_lengths.max())], chosen_lengths,
                rejected_ids[:, : int(rejected_lengths.max())], rejected_lengths)

    return get_batch


@torch.no_grad()
def pair_accuracy(reward_model: RewardModel, pairs: Sequence[Pair], pad_id: int
                  ) -> dict[str, float]:
    """How often the reward model scores the labeled-chosen answer higher (``labels``), and
    the answer the rater's rules prefer (``rules``: where the label is wrong, the rejected
    answer)."""
    tensors = pair_tensors(pairs, pad_id)
    with evaluating(reward_model):
        margins, _ = PreferenceLoss(reward_model)(
            *(tensors[k] for k in ("chosen_ids", "chosen_lengths", "rejected_ids",
                                   "rejected_lengths")))
    agrees = margins > 0
    right = torch.tensor([p.label_right for p in pairs])
    return {"labels": agrees.float().mean().item(),
            "rules": (agrees == right).float().mean().item()}


# ================================================================ log-probabilities
# --8<-- [start:token_log_probs]
def token_log_probs(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    """log p(ids[:, t+1] | ids[:, :t+1]) for every t: (batch, length - 1)."""
    logits, _ = model(ids[:, :-1])
    return torch.log_softmax(logits.float(), dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)


def answer_log_probs(model: GPT, ids: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """log p(answer | prompt): the sum of the answer tokens' log-probabilities, per row."""
    return (token_log_probs(model, ids) * answer).sum(dim=1)
# --8<-- [end:token_log_probs]


# ================================================================ DPO
# --8<-- [start:dpo_loss]
def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             reference_chosen: torch.Tensor, reference_rejected: torch.Tensor,
             beta: float) -> torch.Tensor:
    """DPO's loss (Rafailov et al., 2023, equation 7) for a batch of pairs, from each answer's
    summed log-probability under the policy and under the frozen reference:
    -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), averaged over the pairs.
    ``beta * (pi - ref)`` is the reward DPO's policy implies for an answer."""
    shapes = {t.shape for t in (policy_chosen, policy_rejected, reference_chosen,
                                reference_rejected)}
    if len(shapes) != 1 or policy_chosen.dim() != 1:
        raise ValueError(f"the four log-probabilities must be 1-D tensors of one shape (pairs,), "
                         f"got shapes {sorted(map(tuple, shapes))}")
    if beta <= 0:
        raise ValueError(f"beta={beta} must be > 0")
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).mean()


class DPOLoss(nn.Module):
    """A policy trained by DPO: ``(chosen_ids, chosen_answer, rejected_ids, rejected_answer,
    reference_chosen, reference_rejected) -> (margins, loss)``. The reference's
    log-probabilities are computed once, before training (:func:`with_reference`)."""

    def __init__(self, policy: GPT, beta: float):
        super().__init__()
        self.policy, self.beta = policy, beta

    def forward(self, chosen_ids, chosen_answer, rejected_ids, rejected_answer,
                reference_chosen, reference_rejected):
        chosen = answer_log_probs(self.policy, chosen_ids, chosen_answer)
        rejected = answer_log_probs(self.policy, rejected_ids, rejected_answer)
        margins = (chosen - reference_chosen) - (rejected - reference_rejected)
        return margins, dpo_loss(chosen, rejected, reference_chosen, reference_rejected,
                                 self.beta)
# --8<-- [end:dpo_loss]


@torch.no_grad()
def with_reference(reference: GPT, tensors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """DPO's training tensors: the pairs', and the reference's log-probability of each answer."""
    with evaluating(reference):
        reference_chosen = answer_log_probs(reference, tensors["chosen_ids"],
                                            tensors["chosen_answer"])
        reference_rejected = answer_log_probs(reference, tensors["rejected_ids"],
                                              tensors["rejected_answer"])
    return [tensors["chosen_ids"], tensors["chosen_answer"], tensors["rejected_ids"],
            tensors["rejected_answer"], reference_chosen, reference_rejected]


# ================================================================ step 3: PPO
# --8<-- [start:gae]
def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimates (Schulman et al., 2015) and the returns the value
    function learns, for (batch, steps) tensors in which ``mask`` marks each answer's tokens
    (a prefix of each row): A_t = delta_t + gamma lam A_{t+1}, where
    delta_t = r_t + gamma V_{t+1} - V_t and nothing follows an answer's last token."""
    if not rewards.shape == values.shape == mask.shape:
        raise ValueError(f"rewards, values and mask must have one shape, got "
                         f"{tuple(rewards.shape)}, {tuple(values.shape)}, {tuple(mask.shape)}")
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.size(1))):
        next_value = values[:, t + 1] if t + 1 < rewards.size(1) else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # delta_t
        running = delta + gamma * lam * running  # A_t = delta_t + gamma lam A_{t+1}
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, advantages + values
# --8<-- [end:gae]


# --8<-- [start:clipped_objective]
def clipped_policy_loss(log_probs: torch.Tensor, old_log_probs: torch.Tensor,
                        advantages: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
                        ) -> torch.Tensor:
    """PPO's clipped surrogate (Schulman et al., 2017, equation 7), negated to minimise and
    averaged over the answers' tokens: -min(ratio A, clip(ratio, 1 - eps, 1 + eps) A), where
    ratio = pi(token) / pi_old(token)."""
    ratio = torch.exp(log_probs - old_log_probs)
    objective = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    return -(objective * mask).sum() / mask.sum()
# --8<-- [end:clipped_objective]


# --8<-- [start:kl]
def kl_per_token(log_probs: torch.Tensor, reference_log_probs: torch.Tensor) -> torch.Tensor:
    """log pi(token) - log pi_ref(token) for tokens sampled from pi: its mean over samples is
    KL(pi || pi_ref), token by token (the simplest unbiased estimate; Ziegler et al., 2019,
    use it as the penalty)."""
    return log_probs - reference_log_probs
# --8<-- [end:kl]


class PolicyAndValue(nn.Module):
    """PPO's learner: the policy GPT and a value head on its final vectors (one trunk, two
    heads). ``(ids) -> (token log-probabilities of ids[:, 1:], values at ids[:, :-1])``."""

    def __init__(self, policy: GPT):
        super().__init__()
        self.policy = policy
        self.value_head = ScalarHead(policy.config.d_model)

    def forward(self, ids: torch.Tensor):
        hidden = self.policy.hidden_states(ids[:, :-1])
        logits = F.linear(hidden, self.policy.token_embedding.weight)
        log_probs = torch.log_softmax(logits.float(), dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
        return log_probs, self.value_head(hidden)


# --8<-- [start:ppo_loss]
class PPOLoss(nn.Module):
    """One PPO update's loss on a minibatch of rollouts: ``(ids, mask, old_log_probs,
    advantages, returns) -> (None, loss)``, the clipped policy loss plus ``value_coef`` times
    the value function's squared error, both over the answers' tokens (``mask``)."""

    def __init__(self, learner: PolicyAndValue, clip: float, value_coef: float):
        super().__init__()
        self.learner, self.clip, self.value_coef = learner, clip, value_coef

    def forward(self, ids, mask, old_log_probs, advantages, returns):
        steps = mask.size(1)  # the answers' tokens are the last ones
        log_probs, values = (t[:, -steps:] for t in self.learner(ids))
        policy_loss = clipped_policy_loss(log_probs, old_log_probs, advantages, mask, self.clip)
        value_loss = (((values - returns) ** 2) * mask).sum() / mask.sum()
        return None, policy_loss + self.value_coef * value_loss
# --8<-- [end:ppo_loss]


@dataclass
class PPOConfig:
    """PPO's settings: ``kl_coef`` is beta, the penalty per unit of KL from the reference."""

    iterations: int
    kl_coef: float
    lr: float
    rollouts: int = 64  # answers sampled per iteration, to prompts of one length
    epochs: int = 4  # passes over each iteration's rollouts
    minibatch: int = 32
    clip: float = 0.2
    gamma: float = 1.0
    lam: float = 0.95
    value_coef: float = 0.5
    eval_every: int = 10

    def __post_init__(self):
        if self.iterations < 1 or self.rollouts < 1 or self.epochs < 1 or self.minibatch < 1:
            raise ValueError("iterations, rollouts, epochs and minibatch must be >= 1")
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef={self.kl_coef} must be >= 0")


@torch.no_grad()
def rollout(learner: PolicyAndValue, reference: GPT, reward_model: RewardModel,
            prompts: torch.Tensor, end_id: int, kl_coef: float, generator: torch.Generator,
            gamma: float, lam: float) -> dict[str, torch.Tensor]:
    """Sample an answer to each prompt (one length), score it, and compute what PPO needs:
    the tokens' log-probabilities, per-token rewards (the reward model's score at the last
    token, minus ``kl_coef`` times the KL estimate at every token), advantages and returns."""
    length = prompts.size(1)
    with evaluating(learner):
        ids = generate(learner.policy, prompts, MAX_ANSWER_TOKENS, generator=generator)
        answers = [cut_answer(row, end_id) for row in ids[:, length:].tolist()]
        n_tokens = torch.tensor([len(a.ids) for a in answers])
        steps = torch.arange(MAX_ANSWER_TOKENS)
        mask = (steps[None] < n_tokens[:, None]).float()  # (batch, answer steps)
        answer_columns = slice(length - 1, length - 1 + MAX_ANSWER_TOKENS)
        log_probs, values = (t[:, answer_columns] for t in learner(ids))
        reference_log_probs = token_log_probs(reference, ids)[:, answer_columns]
        scores = reward_model(ids, length + n_tokens)
    kl = kl_per_token(log_probs, reference_log_probs) * mask
    rewards = -kl_coef * kl
    rewards[torch.arange(len(ids)), n_tokens - 1] += scores  # the score, at the last token
    advantages, returns = gae(rewards, values, mask, gamma, lam)
    return {"ids": ids, "mask": mask, "log_probs": log_probs, "advantages": advantages,
            "returns": returns, "scores": scores, "kl": kl.sum(dim=1), "answers": answers}


def whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``values`` shifted and scaled to mean 0 and variance 1 over the entries ``mask`` marks
    (PPO's normalisation of a batch's advantages), 0 elsewhere."""
    mean = (values * mask).sum() / mask.sum()
    variance = (((values - mean) ** 2) * mask).sum() / mask.sum()
    # The square root in float64: float32's last bit differs from one CPU maker to another.
    std = (variance + 1e-8).double().sqrt().float()
    return (values - mean) / std * mask


# --8<-- [start:ppo]
def ppo(policy: GPT, reference: GPT, reward_model: RewardModel,
        prompts: Sequence[Sequence[int]], end_id: int, config: PPOConfig, *, seed: int = 0,
        evaluate: Callable[[GPT], dict[str, float]] | None = None, progress: bool = True,
        desc: str = "ppo") -> History:
    """Tune ``policy`` with PPO against ``reward_model``, penalised by its KL from
    ``reference``. Each iteration samples ``config.rollouts`` answers to prompts of one
    length, then takes ``config.epochs`` passes of minibatch updates through
    :func:`~llm_evolution.training.train_step`. The history records, per iteration, the
    loss, the mean reward-model score (``score``) and KL per answer (``kl``); every
    ``config.eval_every`` iterations, ``evaluate(policy)``'s numbers."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, prompt in enumerate(prompts):
        by_length[len(prompt)].append(i)
    lengths = sorted(by_length)
    weights = torch.tensor([len(by_length[n]) for n in lengths], dtype=torch.float)
    learner = PolicyAndValue(policy)
    loss_module = PPOLoss(learner, config.clip, config.value_coef)
    updates = config.epochs * math.ceil(config.rollouts / config.minibatch)
    optimizer, _ = make_optimizer(learner, lr=config.lr, steps=config.iterations * updates)
    reference.eval()
    reward_model.eval()
    history = History()
    start = time.perf_counter()
    bar = tqdm(range(1, config.iterations + 1), desc=desc, disable=not progress, leave=False)
    for iteration in bar:
        length = lengths[int(torch.multinomial(weights, 1, generator=generator))]
        pool = by_length[length]
        rows = torch.randperm(len(pool), generator=generator)[: config.rollouts].tolist()
        batch = torch.tensor([list(prompts[pool[r]]) for r in rows])
        out = rollout(learner, reference, reward_model, batch, end_id, config.kl_coef,
                      generator, config.gamma, config.lam)
        advantages = whiten(out["advantages"], out["mask"])
        learner.train()
        losses = []
        for _ in range(config.epochs):
            order = torch.randperm(len(batch), generator=generator)
            for first in range(0, len(batch), config.minibatch):
                rows = order[first : first + config.minibatch]
                minibatch = (out["ids"][rows], out["mask"][rows], out["log_probs"][rows],
                             advantages[rows], out["returns"][rows])
                losses.append(train_step(loss_module, minibatch, optimizer).item())
        history.steps.append(iteration)
        history.train_loss.append(sum(losses) / len(losses))
        history.metrics.setdefault("score", []).append(out["scores"].mean().item())
        history.metrics.setdefault("kl", []).append(out["kl"].mean().item())
        if evaluate is not None and (iteration % config.eval_every == 0 or iteration == 1):
            with evaluating(policy):
                for name, value in evaluate(policy).items():
                    history.metrics.setdefault(name, []).append(float(value))
            history.metrics.setdefault("evaluated_at", []).append(iteration)
        bar.set_postfix(score=f"{history.metrics['score'][-1]:.2f}",
                        kl=f"{history.metrics['kl'][-1]:.2f}")
    history.seconds = time.perf_counter() - start
    policy.eval()
    return history
# --8<-- [end:ppo]


# ================================================================ judging models
def answers_as_ids(prompts: Sequence[Sequence[int]], answers: Sequence[Answer], pad_id: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts and answers as one padded tensor (batch, longest), and each row's length."""
    rows = [list(p) + list(a.ids) for p, a in zip(prompts, answers)]
    ids = torch.full((len(rows), max(map(len, rows))), pad_id)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids, torch.tensor([len(row) for row in rows])


# --8<-- [start:rater_evaluation]
class RaterEvaluation:
    """Judges a policy on held-out tasks: one answer sampled to each (a fixed seed, so every
    call draws alike), rated by the rater against the SFT model's answers. Returns the win
    rate against SFT, the share of right answers, the mean rater score, the share of bare
    answers (no "Sure!", no "The answer is:") and, given a reward model, its mean score."""

    def __init__(self, examples: Sequence[Example], tokenizer: ChatTokenizer, sft: GPT,
                 reward_model: RewardModel | None = None, seed: int = 0):
        self.examples, self.tokenizer, self.seed = list(examples), tokenizer, seed
        self.reward_model = reward_model
        self.prompts = [prompt_ids(e, tokenizer) for e in self.examples]
        self.baseline = self.answers(sft, seed + 1)

    def answers(self, policy: GPT, seed: int | None = None) -> list[Answer]:
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        return sample_answers(policy, self.prompts, self.tokenizer.end_id, generator=generator)

    @torch.no_grad()
    def __call__(self, policy: GPT) -> dict[str, float]:
        answers = self.answers(policy)
        judgements = [rate(a, e, self.tokenizer) for a, e in zip(answers, self.examples)]
        texts = [answer_text(a, self.tokenizer) for a in answers]
        result = {
            "win rate": win_rate(answers, self.baseline, self.examples, self.tokenizer),
            "right": sum(j.correct for j in judgements) / len(judgements),
            "rater score": sum(j.score for j in judgements) / len(judgements),
            "bare": sum(is_bare(t) for t in texts) / len(texts),
        }
        if self.reward_model is not None:
            with evaluating(self.reward_model):
                result["reward"] = self.reward_model(
                    *answers_as_ids(self.prompts, answers, self.tokenizer.end_id)).mean().item()
        return result
# --8<-- [end:rater_evaluation]


LEAD_INS = tuple(style.split("{answer}")[0] for style in STYLES.values()
                 if not style.startswith("{answer}"))  # " Sure!", " The answer is:"


def is_bare(text: str) -> bool:
    """Whether an answer starts with none of the demonstrations' lead-ins."""
    return not text.startswith(LEAD_INS)


def win_rate(answers: Sequence[Answer], baseline: Sequence[Answer],
             examples: Sequence[Example], tokenizer: ChatTokenizer) -> float:
    """How often the rater prefers ``answers`` to ``baseline``'s (a tie counts half)."""
    if not len(answers) == len(baseline) == len(examples):
        raise ValueError(f"need one answer of each per example, got {len(answers)}, "
                         f"{len(baseline)} and {len(examples)}")
    total = 0.0
    for a, b, example in zip(answers, baseline, examples):
        total += (1 + prefer(rate(a, example, tokenizer), rate(b, example, tokenizer))) / 2
    return total / len(examples)
