"""Tests for llm_evolution.training: batches, the training loop, evaluation and perplexity."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.models.bigram import CountBigram, NeuralBigram
from llm_evolution.training import History, evaluate, perplexity, random_windows, train

VOCAB = 5


def synthetic_ids(n: int = 200, seed: int = 0) -> torch.Tensor:
    return torch.randint(VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


def repeating_ids(n: int = 120) -> torch.Tensor:
    """0 1 2 0 1 2 ...: every next token is determined by the current one."""
    return torch.arange(n) % 3


# ---------------------------------------------------------------------------- random_windows


def test_random_windows_are_contiguous_slices_and_targets_are_shifted():
    ids = torch.arange(100, 150)  # the value tells the position: ids[k] == 100 + k
    get_batch = random_windows(ids, block_size=8, batch_size=16)
    inputs, targets = get_batch(torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (16, 8)
    for row_in, row_out in zip(inputs, targets):
        start = row_in[0].item() - 100
        assert torch.equal(row_in, ids[start : start + 8])  # a contiguous window
        assert torch.equal(row_out, ids[start + 1 : start + 9])  # the same window, one later


def test_random_windows_cover_every_start_and_stay_in_bounds():
    ids = torch.arange(12)
    get_batch = random_windows(ids, block_size=4, batch_size=64)
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(10):
        inputs, targets = get_batch(generator)
        starts.update(inputs[:, 0].tolist())
        assert targets.max().item() <= 11
    assert starts == set(range(12 - 4))  # every window that fits, including the last one


def test_random_windows_is_deterministic_given_the_generator():
    get_batch = random_windows(synthetic_ids(), block_size=6, batch_size=4)
    first = get_batch(torch.Generator().manual_seed(3))
    second = get_batch(torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_random_windows_bad_arguments():
    with pytest.raises(ValueError, match=r"ids must be a 1-D tensor.*\(2, 10\)"):
        random_windows(torch.zeros(2, 10, dtype=torch.long), 4, 2)
    with pytest.raises(ValueError, match="block_size=10"):
        random_windows(torch.arange(10), 10, 2)


# ---------------------------------------------------------------------------- train


def _train_tiny(seed: int = 0, steps: int = 6, eval_every: int = 2):
    torch.manual_seed(seed)
    model = NeuralBigram(VOCAB)
    history = train(
        model,
        random_windows(synthetic_ids(seed=0), 8, 4),
        val_batch=random_windows(synthetic_ids(seed=1), 8, 4),
        steps=steps,
        lr=0.05,
        eval_every=eval_every,
        eval_batches=2,
        seed=seed,
        progress=False,
    )
    return model, history


def test_same_seed_gives_identical_history_and_weights():
    model_a, history_a = _train_tiny(seed=0)
    model_b, history_b = _train_tiny(seed=0)
    assert history_a.steps == history_b.steps
    assert history_a.train_loss == history_b.train_loss
    assert history_a.val_loss == history_b.val_loss
    assert torch.equal(model_a.logits_table.weight, model_b.logits_table.weight)


def test_different_seed_gives_different_run():
    model_a, history_a = _train_tiny(seed=0)
    model_b, history_b = _train_tiny(seed=1)
    assert history_a.train_loss != history_b.train_loss
    assert not torch.equal(model_a.logits_table.weight, model_b.logits_table.weight)


def test_training_learns_a_repeating_pattern():
    ids = repeating_ids()
    get_batch = random_windows(ids, block_size=12, batch_size=8)
    torch.manual_seed(0)
    model = NeuralBigram(3)
    held_out = [get_batch(torch.Generator().manual_seed(99)) for _ in range(2)]
    before = evaluate(model, held_out)
    history = train(model, get_batch, val_batch=get_batch, steps=150, lr=0.1, eval_every=50,
                    eval_batches=2, progress=False)
    # A random table starts near or above log(3) ~ 1.1 nats; the pattern is fully predictable.
    assert before > 0.5
    assert evaluate(model, held_out) < 0.05
    assert history.val_loss[-1] < 0.05
    assert history.train_loss[-1] < history.train_loss[0]
    assert perplexity(model, ids) < 1.05
    # the learned table predicts the pattern: after token k comes k + 1 (mod 3)
    assert model.logits_table.weight.argmax(dim=-1).tolist() == [1, 2, 0]
    assert not model.training  # train leaves the model in eval mode


@pytest.mark.parametrize(
    ("steps", "eval_every", "expected_steps"),
    [(10, 3, [3, 6, 9, 10]), (9, 3, [3, 6, 9]), (5, 100, [5]), (4, 1, [1, 2, 3, 4])],
)
def test_history_has_one_entry_per_evaluation(steps, eval_every, expected_steps):
    torch.manual_seed(0)
    model = NeuralBigram(VOCAB)
    get_batch = random_windows(synthetic_ids(), 8, 2)
    history = train(model, get_batch, val_batch=get_batch, steps=steps, eval_every=eval_every,
                    eval_batches=1, progress=False)
    assert history.steps == expected_steps
    assert len(history.train_loss) == len(history.val_loss) == len(expected_steps)
    assert history.seconds > 0


def test_history_without_validation_has_no_val_loss():
    torch.manual_seed(0)
    history = train(NeuralBigram(VOCAB), random_windows(synthetic_ids(), 8, 2), steps=4,
                    eval_every=2, progress=False)
    assert history.steps == [2, 4]
    assert len(history.train_loss) == 2
    assert history.val_loss == []


def test_train_loss_is_the_mean_since_the_last_evaluation():
    """With lr=0 the model never changes, so each entry is the mean of known batch losses."""
    torch.manual_seed(0)
    model = NeuralBigram(VOCAB)
    get_batch = random_windows(synthetic_ids(), 8, 2)
    history = train(model, get_batch, steps=4, eval_every=2, lr=0.0, grad_clip=None, seed=7,
                    progress=False)
    generator = torch.Generator().manual_seed(7)  # train draws its batches from this seed
    losses = [model(*get_batch(generator))[1].item() for _ in range(4)]
    assert history.train_loss == pytest.approx([sum(losses[:2]) / 2, sum(losses[2:]) / 2])


def test_history_round_trips_through_a_dict():
    history = History(steps=[1, 2], train_loss=[3.0, 2.0], val_loss=[3.5, 2.5], seconds=0.25)
    assert History.from_dict(history.to_dict()) == history


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"steps": 0}, "steps=0"), ({"eval_every": 0}, "eval_every=0"),
     ({"eval_batches": 0}, "eval_batches=0")],
)
def test_train_bad_arguments(kwargs, name):
    args = {"steps": 5, **kwargs}
    with pytest.raises(ValueError, match=name):
        train(NeuralBigram(VOCAB), random_windows(synthetic_ids(), 8, 2), progress=False, **args)


def test_evaluate_averages_batches_and_restores_mode():
    torch.manual_seed(0)
    model = NeuralBigram(VOCAB)
    get_batch = random_windows(synthetic_ids(), 8, 2)
    generator = torch.Generator().manual_seed(0)
    batches = [get_batch(generator) for _ in range(3)]
    expected = sum(
        F.cross_entropy(model.logits_table.weight[x].reshape(-1, VOCAB), y.reshape(-1)).item()
        for x, y in batches
    ) / 3
    model.train()
    assert evaluate(model, batches) == pytest.approx(expected, rel=1e-6)
    assert model.training


# ---------------------------------------------------------------------------- perplexity


@pytest.mark.parametrize("vocab", [2, 7, 65])
def test_perplexity_of_uniform_model_is_vocab_size(vocab):
    model = CountBigram(torch.zeros(vocab, vocab))  # smoothing only: every row uniform
    ids = torch.randint(vocab, (300,), generator=torch.Generator().manual_seed(0))
    assert perplexity(model, ids, block_size=32) == pytest.approx(vocab, rel=1e-5)


def test_perplexity_is_exp_mean_cross_entropy_by_hand():
    counts = torch.tensor([[1, 3, 0], [2, 0, 2], [0, 1, 5]])
    model = CountBigram(counts, smoothing=1.0)
    ids = torch.tensor([0, 1, 2, 2, 1, 0, 0, 2])
    # P(b | a) = (c[a, b] + 1) / (row[a] + 3); mean NLL over the 7 predicted tokens
    nll = [
        -math.log((counts[a, b].item() + 1) / (counts[a].sum().item() + 3))
        for a, b in zip(ids[:-1].tolist(), ids[1:].tolist())
    ]
    expected = math.exp(sum(nll) / len(nll))
    # windows that split the text unevenly must count every token exactly once
    for block_size in [1, 2, 3, 7, 100]:
        assert perplexity(model, ids, block_size=block_size) == pytest.approx(expected, rel=1e-5)


def test_perplexity_matches_cross_entropy_of_a_neural_model():
    torch.manual_seed(0)
    model = NeuralBigram(VOCAB)
    ids = synthetic_ids(50)
    logits = model.logits_table.weight[ids[:-1]]
    expected = math.exp(F.cross_entropy(logits, ids[1:]).item())
    model.train()
    assert perplexity(model, ids, block_size=16) == pytest.approx(expected, rel=1e-5)
    assert model.training  # the mode is restored


@pytest.mark.parametrize("ids", [torch.tensor([3]), torch.zeros(2, 5, dtype=torch.long)])
def test_perplexity_bad_ids(ids):
    with pytest.raises(ValueError, match="ids must be a 1-D tensor"):
        perplexity(CountBigram(torch.zeros(5, 5)), ids)


def test_eval_metrics_are_recorded_at_every_evaluation():
    ids = torch.arange(40) % 5
    modes = []

    def metrics(model):
        modes.append(model.training)
        return {"calls": len(modes), "grad": torch.is_grad_enabled()}

    model = NeuralBigram(5)
    history = train(model, random_windows(ids, 4, 2), steps=6, eval_every=3, progress=False,
                    eval_metrics=metrics)
    assert history.metrics == {"calls": [1.0, 2.0], "grad": [0.0, 0.0]}
    assert modes == [False, False]
    assert History.from_dict(history.to_dict()) == history


class _ConstantGradient(torch.nn.Module):
    """loss = w: the gradient is always 1, so each AdamW step moves w by exactly the lr used
    (Adam divides the running mean of the gradient by its running root mean square: 1 / 1)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, *batch):
        return None, self.w * 1.0


@pytest.mark.parametrize(
    ("warmup_steps", "lr_decay", "expected"),
    [(0, False, [1.0] * 6),
     (3, False, [1 / 3, 2 / 3, 1.0, 1.0, 1.0, 1.0]),
     (2, True, [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]),  # after warmup: (6 - done) / (6 - 2)
     (0, True, [1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])],
)
def test_learning_rate_warmup_and_decay(warmup_steps, lr_decay, expected):
    model = _ConstantGradient()
    history = train(model, lambda generator: (torch.zeros(1),), steps=6, eval_every=1,
                    lr=0.1, grad_clip=None, progress=False, warmup_steps=warmup_steps,
                    lr_decay=lr_decay, eval_metrics=lambda m: {"w": m.w.item()})
    moves = -torch.diff(torch.tensor([0.0] + history.metrics["w"]))
    assert moves.tolist() == pytest.approx([0.1 * f for f in expected], rel=1e-4)


def test_warmup_steps_must_be_shorter_than_training():
    with pytest.raises(ValueError, match="warmup_steps=5"):
        train(NeuralBigram(VOCAB), random_windows(synthetic_ids(), 8, 2), steps=5,
              warmup_steps=5, progress=False)
