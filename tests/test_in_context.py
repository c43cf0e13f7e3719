"""Tests of chapter 7's task family, prompts, scoring and the trained in-context learner."""

from __future__ import annotations

import itertools

import pytest
import torch

from llm_evolution.data import tasks
from llm_evolution.data.tasks import (
    N_BITS,
    all_rules,
    apply_rule,
    decode,
    draw_sequences,
    encode,
    rule_codes,
    split_rules,
    task_batches,
)
from llm_evolution.in_context import (
    AnswerLoss,
    best_possible_accuracy,
    fine_tune_vs_in_context,
    greedy_answers,
    make_prompts,
)
from llm_evolution.models.gpt import GPT, GPTConfig

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Evaluations of the trained model: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


def reference_output(rule, bits: str) -> str:
    """The rule written out by hand, one position at a time (independent of apply_rule)."""
    out = ""
    for op, bit in zip(rule, bits):
        if op == "keep":
            out += bit
        elif op == "flip":
            out += str(1 - int(bit))
        else:
            out += "0" if op == "zero" else "1"
    return out


def read_examples(text: str) -> list[tuple[str, str]]:
    """(input, output) strings of a text "00 11 11 01; ...", read from the pairs by hand."""
    examples = []
    for example in text.split(";"):
        pairs = example.split()
        if len(pairs) == N_BITS:
            examples.append(("".join(p[0] for p in pairs), "".join(p[1] for p in pairs)))
    return examples


def test_rule_family_is_all_op_combinations():
    rules = all_rules()
    assert len(rules) == 4**N_BITS == len(set(rules))
    assert apply_rule(("keep", "flip", "one", "zero"), "0110") == "0010"


def test_split_is_deterministic_and_disjoint():
    train, held_out = split_rules(64, seed=0)
    assert (train, held_out) == split_rules(64, seed=0)
    assert split_rules(64, seed=1)[1] != held_out
    assert len(held_out) == 64 and len(train) == 192
    assert not set(train) & set(held_out)


def test_sequences_follow_their_rule():
    train, _ = split_rules()
    rules = train[:10]
    ids, mask = draw_sequences(rule_codes(rules), 5, torch.Generator().manual_seed(0))
    assert ids.shape == mask.shape == (10, 45)
    assert mask[0].tolist() == ([False, True] * 4 + [False]) * 5
    for rule, row in zip(rules, ids):
        for x, y in read_examples(decode(row)):
            assert y == reference_output(rule, x)
        # The mask marks exactly the output bits, the second of each pair.
        outputs = "".join(str(bit) for bit in row[mask[0]].tolist())
        assert outputs == "".join(y for _, y in read_examples(decode(row)))


def test_draws_are_deterministic():
    get_batch = task_batches(split_rules()[0], 9, 8)
    first = get_batch(torch.Generator().manual_seed(3))
    second = get_batch(torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_held_out_rules_never_appear_in_training_batches():
    train, held_out = split_rules()
    get_batch = task_batches(train, 9, 256)
    generator = torch.Generator().manual_seed(0)
    held_out_set = set(held_out)
    for _ in range(5):
        inputs, targets, _ = get_batch(generator)
        full = torch.cat([inputs, targets[:, -1:]], dim=1)
        for row in full:
            pairs = read_examples(decode(row))
            assert len(pairs) == 9
            # The rules consistent with the row's examples: a held-out rule must not be the
            # only one (it would mean the row was drawn from it).
            consistent = [r for r in all_rules()
                          if all(reference_output(r, x) == y for x, y in pairs)]
            assert set(consistent) - held_out_set


def test_encode_decode_round_trip():
    text = "00 11 11 01; 1"
    assert decode(encode(text)) == text
    assert encode("01 1;") == [0, 1, 1, 2]  # spaces are ignored


def test_prompts_end_with_a_query_and_answers_are_right():
    _, held_out = split_rules()
    examples, queries, answers = make_prompts(held_out[:3], 2, 4,
                                              torch.Generator().manual_seed(0))
    assert examples.shape == (12, 18) and queries.shape == answers.shape == (12, 4)
    for i, (prompt, query, answer) in enumerate(zip(examples, queries, answers)):
        rule = held_out[i // 4]
        assert len(read_examples(decode(prompt))) == 2
        for x, y in read_examples(decode(prompt)):
            assert y == reference_output(rule, x)
        as_text = lambda bits: "".join(str(b) for b in bits.tolist())  # noqa: E731
        assert as_text(answer) == reference_output(rule, as_text(query))


def test_greedy_answers_feed_the_query_one_bit_at_a_time():
    """A stand-in model that predicts "the last token again" must echo each query bit."""
    class Echo(torch.nn.Module):
        def forward(self, ids):
            return torch.nn.functional.one_hot(ids, 3).float(), None

    queries = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])
    examples = torch.zeros(2, 9, dtype=torch.long)
    assert torch.equal(greedy_answers(Echo(), examples, queries), queries)


def test_best_possible_accuracy_matches_a_simulation():
    generator = torch.Generator().manual_seed(0)
    rules = all_rules()
    for k in (0, 1, 2, 4):
        right = 0.0
        for _ in range(2000):
            rule = rules[torch.randint(len(rules), (1,), generator=generator).item()]
            inputs = [format(torch.randint(16, (1,), generator=generator).item(), "04b")
                      for _ in range(k + 1)]
            query = inputs[-1]
            known = sum(any(x[i] == query[i] for x in inputs[:-1]) for i in range(N_BITS))
            right += 0.5 ** (N_BITS - known)  # an unknown bit is a fair coin
        assert right / 2000 == pytest.approx(best_possible_accuracy(k), abs=0.03)


def test_answer_loss_counts_only_masked_targets():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=3, context_size=81, d_model=32, n_heads=2, n_layers=1))
    inputs, targets, mask = task_batches(split_rules()[0], 9, 4)(torch.Generator())
    logits, loss = AnswerLoss(model)(inputs, targets, mask)
    # Targets are the next tokens: example j's output bits are read at its input bits,
    # positions 9j, 9j + 2, 9j + 4, 9j + 6.
    at = torch.tensor([9 * j + 2 * b for j in range(9) for b in range(4)])
    expected = torch.nn.functional.cross_entropy(logits[:, at].reshape(-1, 3),
                                                 targets[:, at].reshape(-1))
    assert torch.allclose(loss, expected)


@pytest.mark.parametrize("call, name", [
    (lambda: apply_rule(("keep",) * 3, "0000"), "rule"),
    (lambda: apply_rule(("keep", "flip", "zero", "swap"), "0000"), "rule"),
    (lambda: apply_rule(("keep",) * 4, "012"), "bits"),
    (lambda: split_rules(0), "n_held_out"),
    (lambda: draw_sequences(rule_codes(all_rules()[:1]), 0, torch.Generator()), "n_examples"),
    (lambda: task_batches(all_rules(), 9, 0), "batch_size"),
    (lambda: make_prompts(all_rules()[:1], -1, 1, torch.Generator()), "k"),
    (lambda: best_possible_accuracy(-1), "k"),
    (lambda: encode("0120>"), "text"),
])
def test_errors_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_fine_tune_needs_an_example():
    model = GPT(GPTConfig(vocab_size=3, context_size=81, d_model=32, n_heads=2, n_layers=1))
    with pytest.raises(ValueError, match="k=0"):
        fine_tune_vs_in_context(model, all_rules()[0], 0, seed=0)


def test_trained_model_learns_in_context():
    """The cached model, on held-out rules: one example in the prompt lifts it well above the
    empty prompt (where only a guess is possible), and no more than a learner could get."""
    from llm_evolution import zoo
    from llm_evolution.in_context import few_shot_accuracy

    model = zoo.get("icl-gpt").model
    _, held_out = split_rules()
    zero = few_shot_accuracy(model, held_out, 0, seed=7)
    one = few_shot_accuracy(model, held_out, 1, seed=7)
    eight = few_shot_accuracy(model, held_out, 8, seed=7)
    assert zero < 0.15  # chance is 1/16; nothing in an empty prompt says which rule it is
    assert one > zero + 0.15 and eight > zero + 0.15
    assert one < best_possible_accuracy(1) + 0.08  # 0.316: no learner does better on average


def test_tasks_module_uses_no_global_randomness():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    task_batches(all_rules(), 9, 4)(torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(1), before)
    assert itertools is not None and tasks.N_BITS == N_BITS


def test_few_shot_accuracy_equals_scoring_greedy_answers():
    """The one-pass score must agree with the four-pass greedy answers it stands for."""
    from llm_evolution.in_context import few_shot_accuracy

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=3, context_size=81, d_model=32, n_heads=2, n_layers=1))
    rules = split_rules()[1][:8]
    for k in (0, 2):
        examples, queries, answers = make_prompts(rules, k, 16, torch.Generator().manual_seed(5))
        greedy = (greedy_answers(model, examples, queries) == answers).all(dim=1)
        assert few_shot_accuracy(model, rules, k, seed=5) == greedy.float().mean().item()
