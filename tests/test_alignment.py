"""Chapter 11's alignment pieces, each against a value computed independently: GAE and PPO's
clipped loss by hand, the Bradley-Terry loss with ``math``, the KL estimate against the exact
KL of two small distributions, the rater's rules on hand examples, the reward model's read-out,
sampling against single-prompt greedy decoding, log-probabilities against a loop over prefixes,
DPO's loss on a tiny GPT, the preference tensors, the conversations and the win rate.

Every model here is a small random GPT built in the test (seeded); nothing is trained or loaded
from the cache. DPO's loss against TRL's is tests/test_dpo_trl.py.
"""

from __future__ import annotations

import math
import random
import string

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.alignment import (
    Answer,
    DPOLoss,
    Pair,
    PPOConfig,
    answer_log_probs,
    bradley_terry_loss,
    clipped_policy_loss,
    dpo_loss,
    gae,
    kl_per_token,
    pair_tensors,
    sample_answers,
    token_log_probs,
    win_rate,
)
from llm_evolution.data.chat import CHAT_TOKENS, ChatTokenizer
from llm_evolution.data.conversations import (
    ASSISTANT_CLUSTERS,
    GREETING_REPLY,
    GREETINGS,
    STYLES,
    THANKS,
    THANKS_REPLY,
    conversations,
)
from llm_evolution.data.instructions import Example, training_examples
from llm_evolution.generation import generate
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.models.reward import RewardModel
from llm_evolution.rater import LABEL_NOISE, judge, noisy, prefer


class CharTokenizer:
    """A character-level base tokenizer (printable ASCII): a ChatTokenizer without the 3 s
    of chapter 6's BPE."""

    chars = string.printable
    vocab_size = len(chars)

    def encode(self, text: str) -> list[int]:
        return [self.chars.index(c) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


def chat_tokenizer() -> ChatTokenizer:
    return ChatTokenizer(CharTokenizer())


def tiny_gpt(vocab_size: int = 24, seed: int = 0, context_size: int = 32) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab_size, context_size=context_size, d_model=16,
                         n_heads=2, n_layers=2))


def spread(model: GPT, seed: int) -> GPT:
    """``model`` with its matrices drawn at std 0.5 instead of 0.02, so that its next-token
    scores are spread out (no near-ties for greedy decoding to fall on either side of) and
    greedy answers vary along a row instead of repeating one token."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0, 0.5, generator=generator)
    return model


# ---------------------------------------------------------------- GAE

def test_gae_hand_computed_example():
    """One answer of 3 steps, rewards [0, 0, 1], values [0.5, 0.2, 0.1], gamma 1, lambda 0.95,
    worked through the recursion by hand."""
    # delta_t = r_t + gamma V_{t+1} - V_t, with nothing (0) after the last step
    delta = [0 + 0.2 - 0.5, 0 + 0.1 - 0.2, 1 + 0 - 0.1]  # [-0.3, -0.1, 0.9]
    a2 = delta[2]  # 0.9
    a1 = delta[1] + 0.95 * a2  # -0.1 + 0.855 = 0.755
    a0 = delta[0] + 0.95 * a1  # -0.3 + 0.71725 = 0.41725
    assert [a0, a1, a2] == pytest.approx([0.41725, 0.755, 0.9])
    rewards = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.2, 0.1]], dtype=torch.float64)
    advantages, returns = gae(rewards, values, torch.ones_like(rewards), gamma=1.0, lam=0.95)
    assert advantages[0].tolist() == pytest.approx([0.41725, 0.755, 0.9], abs=1e-12)
    assert returns[0].tolist() == pytest.approx([0.41725 + 0.5, 0.755 + 0.2, 0.9 + 0.1],
                                                abs=1e-12)


def test_gae_with_lambda_1_is_the_monte_carlo_return_minus_the_value():
    """gamma = lambda = 1: A_t = (r_t + r_{t+1} + ... + r_T) - V_t (the deltas telescope)."""
    g = torch.Generator().manual_seed(0)
    rewards = torch.randn(3, 6, generator=g, dtype=torch.float64)
    values = torch.randn(3, 6, generator=g, dtype=torch.float64)
    advantages, returns = gae(rewards, values, torch.ones_like(rewards), gamma=1.0, lam=1.0)
    for row in range(3):
        r, v = rewards[row].tolist(), values[row].tolist()
        expected = [sum(r[t:]) - v[t] for t in range(6)]
        assert advantages[row].tolist() == pytest.approx(expected, abs=1e-12)
        assert returns[row].tolist() == pytest.approx([sum(r[t:]) for t in range(6)], abs=1e-12)


def test_gae_with_lambda_0_is_the_one_step_td_error():
    """lambda = 0: A_t = delta_t = r_t + gamma V_{t+1} - V_t (V after the last step is 0)."""
    g = torch.Generator().manual_seed(1)
    rewards = torch.randn(2, 5, generator=g, dtype=torch.float64)
    values = torch.randn(2, 5, generator=g, dtype=torch.float64)
    gamma = 0.9
    advantages, _ = gae(rewards, values, torch.ones_like(rewards), gamma=gamma, lam=0.0)
    for row in range(2):
        r, v = rewards[row].tolist(), values[row].tolist() + [0.0]
        expected = [r[t] + gamma * v[t + 1] - v[t] for t in range(5)]
        assert advantages[row].tolist() == pytest.approx(expected, abs=1e-12)


def test_gae_stops_at_the_end_of_each_answer():
    """A row whose answer is the first 2 of 4 steps gets the advantages of that 2-step answer
    on its own, whatever the rewards and values after it say; zeros after."""
    g = torch.Generator().manual_seed(2)
    rewards = torch.randn(1, 4, generator=g, dtype=torch.float64)
    values = torch.randn(1, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    advantages, returns = gae(rewards, values, mask, gamma=0.99, lam=0.9)
    alone, alone_returns = gae(rewards[:, :2], values[:, :2], torch.ones(1, 2, dtype=torch.float64),
                               gamma=0.99, lam=0.9)
    # the 2-step answer by hand: V after its last step is 0
    (r0, r1), (v0, v1) = rewards[0, :2].tolist(), values[0, :2].tolist()
    a1 = r1 - v1
    a0 = r0 + 0.99 * v1 - v0 + 0.99 * 0.9 * a1
    assert alone[0].tolist() == pytest.approx([a0, a1], abs=1e-12)
    assert advantages[0].tolist() == pytest.approx([a0, a1, 0.0, 0.0], abs=1e-12)
    assert returns[0, :2].tolist() == pytest.approx(alone_returns[0].tolist(), abs=1e-12)
    assert returns[0, 2:].tolist() == [0.0, 0.0]


def test_gae_rejects_tensors_of_different_shapes():
    """Rewards, values and mask of different shapes raise, naming them."""
    with pytest.raises(ValueError, match="rewards, values and mask"):
        gae(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3))


# ---------------------------------------------------------------- PPO's clipped loss

def test_clipped_policy_loss_by_hand():
    """-min(ratio A, clip(ratio, 0.8, 1.2) A) token by token, worked out by hand for each case,
    averaged over the unmasked tokens; clipped tokens pass no gradient."""
    ratios = [1.5, 0.5, 1.1, 1.5, 0.5, 3.0]
    advantages = [2.0, -1.0, 1.0, -1.0, 1.0, 5.0]
    mask = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # the last token is padding
    terms = [
        1.2 * 2.0,  # above 1 + eps, A > 0: min(3.0, 2.4) = 2.4, clipped
        0.8 * -1.0,  # below 1 - eps, A < 0: min(-0.5, -0.8) = -0.8, clipped
        1.1 * 1.0,  # inside the range: 1.1 either way
        1.5 * -1.0,  # above 1 + eps, A < 0: min(-1.5, -1.2) = -1.5, the unclipped ratio
        0.5 * 1.0,  # below 1 - eps, A > 0: min(0.5, 0.8) = 0.5, the unclipped ratio
    ]
    expected = -sum(terms) / 5
    old = torch.tensor([-1.0, -2.0, -0.5, -3.0, -1.5, -1.0], dtype=torch.float64)
    log_probs = (old + torch.tensor(ratios, dtype=torch.float64).log()).requires_grad_()
    loss = clipped_policy_loss(log_probs, old, torch.tensor(advantages, dtype=torch.float64),
                               torch.tensor(mask, dtype=torch.float64), clip=0.2)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    loss.backward()
    # d/d log_prob of -(ratio A) / 5 is -ratio A / 5 where unclipped; 0 where clipped or masked
    expected_grad = [0.0, 0.0, -1.1 * 1.0 / 5, -1.5 * -1.0 / 5, -0.5 * 1.0 / 5, 0.0]
    assert log_probs.grad.tolist() == pytest.approx(expected_grad, abs=1e-12)


# ---------------------------------------------------------------- the reward model's loss

def test_bradley_terry_loss_is_minus_log_of_the_preference_probability():
    """The mean of -log(e^{r_c} / (e^{r_c} + e^{r_r})), computed with math.exp and math.log."""
    chosen = [1.0, -0.5, 2.0, 0.3]
    rejected = [0.0, 0.5, -1.5, 0.3]
    expected = sum(-math.log(math.exp(c) / (math.exp(c) + math.exp(r)))
                   for c, r in zip(chosen, rejected)) / len(chosen)
    loss = bradley_terry_loss(torch.tensor(chosen, dtype=torch.float64),
                              torch.tensor(rejected, dtype=torch.float64))
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    assert loss.item() == pytest.approx(  # equal rewards: -log(1/2) for the last pair
        (-math.log(1 / (1 + math.exp(-1))) - math.log(1 / (1 + math.exp(1)))
         - math.log(1 / (1 + math.exp(-3.5))) + math.log(2)) / 4, abs=1e-12)


# ---------------------------------------------------------------- the KL penalty

def test_kl_estimate_averages_to_the_exact_kl():
    """Over a 5-token vocabulary: the estimate weighted by p is exactly KL(p || q), and its mean
    over 200,000 tokens drawn from p lies within 4 standard errors of it."""
    p = [0.4, 0.3, 0.15, 0.1, 0.05]
    q = [0.2, 0.2, 0.2, 0.2, 0.2]
    exact = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    log_p = torch.tensor(p, dtype=torch.float64).log()
    log_q = torch.tensor(q, dtype=torch.float64).log()
    per_token = kl_per_token(log_p, log_q)
    assert sum(pi * k for pi, k in zip(p, per_token.tolist())) == pytest.approx(exact, abs=1e-6)

    n = 200_000
    tokens = torch.multinomial(torch.tensor(p, dtype=torch.float64), n, replacement=True,
                               generator=torch.Generator().manual_seed(0))
    estimates = kl_per_token(log_p[tokens], log_q[tokens])
    second_moment = sum(pi * math.log(pi / qi) ** 2 for pi, qi in zip(p, q))
    standard_error = math.sqrt((second_moment - exact**2) / n)
    assert abs(estimates.mean().item() - exact) < 4 * standard_error


# ---------------------------------------------------------------- the rater

def test_judge_scores_hand_examples():
    """Right + ended = 1 + 0.5; each word beyond the response's costs 0.1; a wrong answer gets
    only the 0.5 for ending; an unended right answer gets only the 1."""
    bare = judge(" to be", True, "to be")
    assert (bare.correct, bare.ends, bare.extra_words) == (True, True, 0)
    assert bare.score == pytest.approx(1.5)
    sure = judge(" Sure! to be", True, "to be")
    assert (sure.correct, sure.extra_words) == (True, 1)
    assert sure.score == pytest.approx(1.4)
    answer_is = judge(" The answer is: to be", True, "to be")
    assert answer_is.extra_words == 3 and answer_is.score == pytest.approx(1.2)
    wrong = judge(" be to", True, "to be")
    assert (wrong.correct, wrong.extra_words) == (False, 0)
    assert wrong.score == pytest.approx(0.5)
    unended = judge(" to be", False, "to be")
    assert unended.correct and unended.score == pytest.approx(1.0)
    # the response must appear word for word: "to" alone or "tobe" is not it
    assert not judge(" to", True, "to be").correct
    assert not judge(" tobe", True, "to be").correct


def test_prefer_signs():
    """1 when the first scores higher, -1 when the second does, 0 on a tie."""
    right, wrong = judge(" seven", True, "seven"), judge(" eight", True, "seven")
    assert prefer(right, wrong) == 1
    assert prefer(wrong, right) == -1
    assert prefer(right, judge(" seven", True, "seven")) == 0


def test_noisy_labels_flip_at_the_label_noise_rate():
    """Over 10,000 labels the share flipped is LABEL_NOISE within 4 standard errors; a noise
    of 0.5 (labels that say nothing) raises."""
    rng = random.Random(0)
    n = 10_000
    labels = [noisy(1, rng) for _ in range(n)]
    assert set(labels) <= {1, -1}
    flipped = labels.count(-1) / n
    assert abs(flipped - LABEL_NOISE) < 4 * math.sqrt(LABEL_NOISE * (1 - LABEL_NOISE) / n)
    assert noisy(1, random.Random(0), noise=0.0) == 1
    with pytest.raises(ValueError, match="noise=0.5"):
        noisy(1, random.Random(0), noise=0.5)


# ---------------------------------------------------------------- the reward model

def test_reward_model_reads_the_score_at_the_last_real_token():
    """The reward is the linear head applied to the GPT's final vector at ``lengths - 1``,
    and tokens after that (padding) do not change it."""
    torch.manual_seed(0)
    model = RewardModel(GPTConfig(vocab_size=24, context_size=16, d_model=16, n_heads=2,
                                  n_layers=2))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # the head starts at zero; give it random weights
        model.head.linear.weight.normal_(generator=g)
        model.head.linear.bias.normal_(generator=g)
    model.eval()
    ids = torch.randint(24, (3, 10), generator=g)
    lengths = torch.tensor([10, 4, 1])
    scores = model(ids, lengths)
    with torch.no_grad():
        hidden = model.gpt.hidden_states(ids)
        weight, bias = model.head.linear.weight[0], model.head.linear.bias[0]
        expected = [(hidden[row, n - 1] * weight).sum() + bias
                    for row, n in enumerate(lengths.tolist())]
    torch.testing.assert_close(scores, torch.stack(expected))
    assert len(set(scores.tolist())) == 3  # the head is not zero: the scores differ

    padded = ids.clone()
    for row, n in enumerate(lengths.tolist()):
        padded[row, n:] = (ids[row, n:] + 1) % 24  # other tokens after the answer
    torch.testing.assert_close(model(padded, lengths), scores, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lengths", [[0, 3], [3, 11], [3], [[3, 3]]],
                         ids=["zero", "too-long", "too-few", "2-d"])
def test_reward_model_rejects_bad_lengths(lengths):
    """Lengths of 0, past the ids, or not one per row raise, naming ``lengths``."""
    torch.manual_seed(0)
    model = RewardModel(GPTConfig(vocab_size=24, context_size=16, d_model=16, n_heads=2,
                                  n_layers=2))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.zeros(2, 10, dtype=torch.long), torch.tensor(lengths))


# ---------------------------------------------------------------- sampling answers

def test_greedy_answers_are_each_prompts_own_greedy_decoding_cut_at_the_end():
    """Prompts of two lengths, sampled together, get the answers each prompt gets alone from
    ``generate`` (greedy), cut after the first end token, in the prompts' order."""
    model = spread(tiny_gpt(seed=3), seed=4)
    g = torch.Generator().manual_seed(5)
    prompts = [torch.randint(24, (n,), generator=g).tolist() for n in (5, 3, 5, 3, 4)]
    alone = [generate(model, torch.tensor([p]), 8, greedy=True)[0, len(p):].tolist()
             for p in prompts]
    end_id = alone[0][3]  # a token the first answer writes fourth: that answer is cut
    assert 0 < sum(end_id in new for new in alone) < len(alone)  # some are cut, some not

    answers = sample_answers(model, prompts, end_id, greedy=True, max_new_tokens=8)
    assert len(answers) == len(prompts)
    for new, answer in zip(alone, answers):
        if end_id in new:
            first = new.index(end_id)
            assert answer == Answer(tuple(new[: first + 1]), True)
        else:
            assert answer == Answer(tuple(new), False)
    assert answers[0].ends and len(answers[0].ids) <= 4
    assert len({a.ids for a in answers}) > 1  # the prompts get different answers


# ---------------------------------------------------------------- log-probabilities

def loop_log_probs(model: GPT, ids: torch.Tensor) -> list[list[float]]:
    """log p(ids[b, t+1] | ids[b, :t+1]), one prefix at a time."""
    out = []
    with torch.no_grad():
        for row in ids:
            values = []
            for t in range(len(row) - 1):
                logits, _ = model(row[None, : t + 1])
                values.append(F.log_softmax(logits[0, -1].double(), dim=-1)[row[t + 1]].item())
            out.append(values)
    return out


def test_token_and_answer_log_probs_equal_a_loop_over_prefixes():
    """Each token's log-probability given its prefix (run alone), and their sum over the
    answer's positions only."""
    model = tiny_gpt(seed=6).eval()
    ids = torch.randint(24, (2, 7), generator=torch.Generator().manual_seed(7))
    expected = loop_log_probs(model, ids)
    with torch.no_grad():
        got = token_log_probs(model, ids)
    assert got.shape == (2, 6)
    for row in range(2):
        assert got[row].tolist() == pytest.approx(expected[row], abs=1e-5)
    answer = torch.tensor([[0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        sums = answer_log_probs(model, ids, answer)
    assert sums.tolist() == pytest.approx([sum(expected[0][2:5]), sum(expected[1][4:6])],
                                          abs=1e-5)


# ---------------------------------------------------------------- DPO

def test_dpo_loss_module_on_a_tiny_gpt():
    """DPOLoss's margins and loss equal -log sigmoid(beta ((pi_c - ref_c) - (pi_r - ref_r))),
    averaged, from answer log-probabilities summed by a loop over prefixes."""
    policy = tiny_gpt(seed=8).eval()
    g = torch.Generator().manual_seed(9)
    chosen_ids, rejected_ids = torch.randint(24, (2, 3, 6), generator=g)
    chosen_answer = torch.tensor([[0, 0, 1, 1, 1]] * 3, dtype=torch.bool)
    rejected_answer = torch.tensor([[0, 0, 0, 1, 1]] * 3, dtype=torch.bool)
    reference_chosen = torch.tensor([-9.0, -8.0, -10.0])
    reference_rejected = torch.tensor([-6.0, -7.5, -5.0])
    beta = 0.3
    margins, loss = DPOLoss(policy, beta)(chosen_ids, chosen_answer, rejected_ids,
                                          rejected_answer, reference_chosen, reference_rejected)
    chosen = [sum(row[2:5]) for row in loop_log_probs(policy, chosen_ids)]
    rejected = [sum(row[3:5]) for row in loop_log_probs(policy, rejected_ids)]
    expected_margins = [(c - rc) - (r - rr) for c, r, rc, rr in
                        zip(chosen, rejected, reference_chosen.tolist(),
                            reference_rejected.tolist())]
    expected_loss = sum(math.log(1 + math.exp(-beta * m)) for m in expected_margins) / 3
    assert margins.tolist() == pytest.approx(expected_margins, abs=1e-4)
    assert loss.item() == pytest.approx(expected_loss, abs=1e-5)
    loss.backward()  # the loss trains the policy
    assert policy.token_embedding.weight.grad.abs().sum() > 0


def test_dpo_loss_rejects_bad_beta_and_shapes():
    """beta <= 0 and log-probabilities of different shapes (or not 1-D) raise."""
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="beta=0"):
        dpo_loss(x, x, x, x, beta=0)
    with pytest.raises(ValueError, match="beta=-0.1"):
        dpo_loss(x, x, x, x, beta=-0.1)
    with pytest.raises(ValueError, match="one shape"):
        dpo_loss(x, torch.zeros(4), x, x, beta=0.1)
    with pytest.raises(ValueError, match="1-D"):
        dpo_loss(*(torch.zeros(3, 1),) * 4, beta=0.1)


# ---------------------------------------------------------------- preference tensors

def test_pair_tensors_mark_exactly_the_answers_targets():
    """For each side, the ids are prompt + answer padded with ``pad_id``, the lengths are
    theirs, and the answer mask (aligned with ids[:, 1:]) picks out exactly the answer ids."""
    example = Example("words", "first_word", "Give the first word.", "to be", "to")
    pairs = [
        Pair(example=example, prompt=(1, 2, 3), chosen=Answer((4, 5, 9), True),
             rejected=Answer((6,), False), label_right=True),
        Pair(example=example, prompt=(7, 8), chosen=Answer((10, 11, 12, 13), False),
             rejected=Answer((14, 15, 9), True), label_right=False),
    ]
    pad = 0
    tensors = pair_tensors(pairs, pad)
    for side in ("chosen", "rejected"):
        ids, lengths, answer = (tensors[f"{side}_{k}"] for k in ("ids", "lengths", "answer"))
        rows = [list(p.prompt) + list(getattr(p, side).ids) for p in pairs]
        assert lengths.tolist() == [len(r) for r in rows]
        assert answer.shape == (2, ids.size(1) - 1)
        for row, pair in enumerate(pairs):
            assert ids[row].tolist() == rows[row] + [pad] * (ids.size(1) - len(rows[row]))
            assert ids[row, 1:][answer[row]].tolist() == list(getattr(pair, side).ids)
    assert tensors["chosen_answer"].tolist() == [[False, False, True, True, True],
                                                 [False, True, True, True, True]]


# ---------------------------------------------------------------- conversations

def test_conversations_are_seeded_tasks_in_the_demonstration_styles():
    """The same seed gives the same conversations; each holds its task's user turn and an
    assistant reply in one of STYLES; about a third open with a greeting and a third end with
    thanks (n = 300: 100 expected, sd 8.2, range +-4 sd)."""
    n = 300
    result = conversations(n)
    assert result == conversations(n)
    assert result != conversations(n, seed=3)
    examples = training_examples(ASSISTANT_CLUSTERS, n, seed=1)
    greeted = thanked = bare = 0
    for turns, example in zip(result, examples):
        roles = [role for role, _ in turns]
        assert roles in (["user", "assistant"], ["user", "assistant"] * 2)
        if turns[0][1] in GREETINGS:
            greeted += 1
            assert turns[1] == ("assistant", GREETING_REPLY)
            turns = turns[2:]
        elif turns[-2][1] in THANKS:
            thanked += 1
            assert turns[-1] == ("assistant", THANKS_REPLY)
            turns = turns[:2]
        (_, prompt), (_, reply) = turns
        assert prompt == f"{example.instruction}\n {example.input}"
        assert reply in {style.format(answer=f" {example.response}") for style in STYLES.values()}
        bare += reply == f" {example.response}"
    assert 67 <= greeted <= 133 and 67 <= thanked <= 133
    assert 115 <= bare <= 185  # bare is 2 of 4: 150 expected, sd 8.7


# ---------------------------------------------------------------- settings and judging

def test_ppo_config_rejects_bad_settings():
    """A negative KL coefficient and fewer than one iteration raise, naming them."""
    with pytest.raises(ValueError, match="kl_coef=-0.1"):
        PPOConfig(iterations=1, kl_coef=-0.1, lr=1e-5)
    with pytest.raises(ValueError, match="iterations"):
        PPOConfig(iterations=0, kl_coef=0.1, lr=1e-5)
    PPOConfig(iterations=1, kl_coef=0.0, lr=1e-5)  # no penalty is allowed


def test_win_rate():
    """Identical answers tie (0.5); a right, ended answer beats a wrong one every time (1.0),
    and loses to it every time the other way round (0.0)."""
    tokenizer = chat_tokenizer()
    assert tokenizer.end_id == CharTokenizer.vocab_size + CHAT_TOKENS.index("<|end|>")
    examples = [Example("words", "first_word", "Give the first word.", "to be or not", "to"),
                Example("numbers", "add", "Add one.", "six", "seven")]

    def answer(text: str) -> Answer:
        return Answer(tuple(tokenizer.encode(text)) + (tokenizer.end_id,), True)

    right = [answer(" to"), answer(" Sure! seven")]
    wrong = [answer(" be"), answer(" six")]
    assert win_rate(right, right, examples, tokenizer) == 0.5
    assert win_rate(right, wrong, examples, tokenizer) == 1.0
    assert win_rate(wrong, right, examples, tokenizer) == 0.0
    with pytest.raises(ValueError, match="one answer of each per example"):
        win_rate(right, wrong[:1], examples, tokenizer)
