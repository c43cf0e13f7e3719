"""The RNN encoder-decoder: shapes, padding, attention weights, loss, errors, learning, cost."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.models.rnn import (
    AdditiveAttention,
    Encoder,
    Seq2SeqRNN,
    reverse_real_tokens,
)
from llm_evolution.models.seq2seq import BOS, EOS, PAD
from llm_evolution.timing import step_seconds_by_length
from llm_evolution.training import train
from llm_evolution.translation import exact_match, rnn_attention_map, translation_data

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Small trainings: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


SOURCE_VOCAB, TARGET_VOCAB = 11, 9


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and timings are steadier there when other
    processes compete for the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(attention: bool, **sizes) -> Seq2SeqRNN:
    torch.manual_seed(0)
    sizes = {"embed_size": 8, "hidden_size": 16, **sizes}
    return Seq2SeqRNN(SOURCE_VOCAB, TARGET_VOCAB, attention=attention, **sizes).eval()


def random_sequences(lengths: list[int], vocab: int, seed: int) -> list[torch.Tensor]:
    """Sequences of real tokens (ids 3..vocab-1) ended by EOS, one per length."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.cat([torch.randint(3, vocab, (n,), generator=generator), torch.tensor([EOS])])
            for n in lengths]


def padded(rows: list[torch.Tensor]) -> torch.Tensor:
    return nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)


@pytest.mark.parametrize("attention", [False, True])
def test_shapes(attention: bool):
    model = make_model(attention)
    source = padded(random_sequences([4, 7, 2], SOURCE_VOCAB, 0))
    target_in = torch.randint(3, TARGET_VOCAB, (3, 5))
    target_in[:, 0] = BOS
    logits, loss = model(source, target_in)
    assert logits.shape == (3, 5, TARGET_VOCAB) and loss is None
    _, loss = model(source, target_in, torch.randint(3, TARGET_VOCAB, (3, 5)))
    assert loss.shape == () and loss.item() > 0


@pytest.mark.parametrize("attention", [False, True])
def test_padding_the_source_changes_nothing(attention: bool):
    """A padded batch gives each pair the logits it gets alone, without any padding."""
    model = make_model(attention)
    lengths = [6, 1, 3, 9]
    sources = random_sequences(lengths, SOURCE_VOCAB, 1)
    targets = random_sequences([5, 2, 4, 3], TARGET_VOCAB, 2)
    target_in = padded([torch.cat([torch.tensor([BOS]), t[:-1]]) for t in targets])
    batch_logits, _ = model(padded(sources), target_in)
    for row, (source, target) in enumerate(zip(sources, targets)):
        alone, _ = model(source[None], target_in[row : row + 1, : len(target)])
        assert torch.allclose(batch_logits[row, : len(target)], alone[0], atol=1e-5)


def test_reverse_real_tokens_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 9]])[:, :, None]
    reversed_ = reverse_real_tokens(x, torch.tensor([3, 2, 4]))
    assert reversed_[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [9, 8, 7, 6]]


def test_encoder_matches_a_bidirectional_torch_gru():
    """On unpadded sources, our two GRUs are torch's bidirectional GRU with the same weights."""
    torch.manual_seed(0)
    encoder = Encoder(SOURCE_VOCAB, 8, 16)
    reference = nn.GRU(8, 16, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, _ in reference.named_parameters():  # weight_ih_l0, weight_ih_l0_reverse, ...
            gru = encoder.backward_gru if name.endswith("_reverse") else encoder.forward_gru
            getattr(reference, name).copy_(getattr(gru, name.removesuffix("_reverse")))
    source = torch.stack(random_sequences([6, 6, 6], SOURCE_VOCAB, 11))
    states, summary = encoder(source)
    expected_states, last = reference(encoder.embed(source))
    assert torch.allclose(states, expected_states, atol=1e-6)
    assert torch.allclose(summary, torch.cat([last[0], last[1]], dim=-1), atol=1e-6)


def test_attention_weights_sum_to_one_and_skip_padding():
    model = make_model(attention=True)
    lengths = [6, 1, 3, 9]
    source = padded(random_sequences(lengths, SOURCE_VOCAB, 3))
    ids, weights = model.generate(source, max_new_tokens=7, return_attention=True)
    assert weights.shape == (4, ids.size(1), source.size(1))
    assert torch.allclose(weights.sum(dim=-1), torch.ones(4, ids.size(1)), atol=1e-6)
    assert (weights >= 0).all()
    is_padding = (source == PAD)[:, None, :].expand_as(weights)
    assert (weights[is_padding] == 0).all()
    # And padding changes no weight on the real tokens either.
    for row, n in enumerate(lengths):
        _, alone = model.generate(source[row : row + 1, : n + 1], 7, return_attention=True)
        steps = min(alone.size(1), weights.size(1))
        assert torch.allclose(weights[row, :steps, : n + 1], alone[0, :steps], atol=1e-5)


def test_additive_attention_matches_its_formula():
    """context = sum_j softmax_j(v . tanh(W s + U h_j)) h_j, computed one position at a time."""
    torch.manual_seed(0)
    attend = AdditiveAttention(decoder_size=5, encoder_size=6, attention_size=4)
    state, states = torch.randn(2, 5), torch.randn(2, 3, 6)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    context, weights = attend(state, attend.key(states), states, mask)
    W, U, v = attend.query.weight, attend.key.weight, attend.score.weight[0]
    for b in range(2):
        real = int(mask[b].sum())
        scores = torch.stack([v @ torch.tanh(W @ state[b] + U @ states[b, j])
                              for j in range(real)])
        expected = torch.softmax(scores, dim=0)
        assert torch.allclose(weights[b, :real], expected, atol=1e-6)
        assert torch.allclose(context[b], expected @ states[b, :real], atol=1e-6)


@pytest.mark.parametrize("attention", [False, True])
def test_decoder_is_causal(attention: bool):
    """The logits at step t depend on target tokens before t only (what teacher forcing needs)."""
    model = make_model(attention)
    source = padded(random_sequences([5, 3], SOURCE_VOCAB, 4))
    target_in = torch.randint(3, TARGET_VOCAB, (2, 6))
    changed = target_in.clone()
    changed[:, 4:] = (changed[:, 4:] + 1 - 3) % (TARGET_VOCAB - 3) + 3
    before, _ = model(source, target_in)
    after, _ = model(source, changed)
    assert torch.allclose(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_without_attention_the_decoder_sees_only_the_summary():
    """Two sources with the same summary vector get the same translation: the bottleneck."""
    model = make_model(attention=False)
    source = padded(random_sequences([5], SOURCE_VOCAB, 5))
    state, memory = model.encode(source)
    # Scramble every per-position state: the model without attention must not notice.
    memory_scrambled = {**memory, "states": torch.randn_like(memory["states"])}
    previous = torch.tensor([BOS])
    logits, _, weights = model.decoder_step(previous, state, memory)
    scrambled, _, _ = model.decoder_step(previous, state, memory_scrambled)
    assert weights is None and torch.equal(logits, scrambled)


def test_loss_matches_cross_entropy_by_hand():
    model = make_model(attention=True)
    source = padded(random_sequences([4, 2], SOURCE_VOCAB, 6))
    target_in = torch.tensor([[BOS, 5, 6], [BOS, 7, PAD]])
    target_out = torch.tensor([[5, 6, EOS], [7, EOS, PAD]])
    logits, loss = model(source, target_in, target_out)
    real = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]  # the PAD target counts for nothing
    expected = torch.stack([F.cross_entropy(logits[b, t][None], target_out[b, t][None])
                            for b, t in real]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)


@pytest.mark.parametrize("attention", [False, True])
def test_generate_shape_and_stop(attention: bool):
    model = make_model(attention)
    source = padded(random_sequences([3, 5], SOURCE_VOCAB, 7))
    ids = model.generate(source, max_new_tokens=6)
    assert ids.dtype == torch.long and ids.size(0) == 2 and 1 <= ids.size(1) <= 6
    # A model that always says EOS stops after one step, whatever max_new_tokens is.
    with torch.no_grad():
        model.out.bias.fill_(0)
        model.out.bias[EOS] = 1e4
    assert model.generate(source, max_new_tokens=50).tolist() == [[EOS], [EOS]]


def test_generate_pads_after_eos():
    model = make_model(attention=False)
    source = padded(random_sequences([3, 5, 2, 6], SOURCE_VOCAB, 8))
    ids = model.generate(source, max_new_tokens=12)
    for row in ids.tolist():
        if EOS in row:
            assert all(i == PAD for i in row[row.index(EOS) + 1 :])


def test_generate_agrees_with_teacher_forcing_on_its_own_output():
    """Feeding the greedy output back as target_in reproduces the same argmax at every step."""
    model = make_model(attention=True)
    source = padded(random_sequences([4], SOURCE_VOCAB, 9))
    ids = model.generate(source, max_new_tokens=5)
    target_in = torch.cat([torch.tensor([[BOS]]), ids[:, :-1]], dim=1)
    logits, _ = model(source, target_in)
    assert torch.equal(logits.argmax(dim=-1), ids)


def test_attention_map_labels_every_row_and_column():
    data = translation_data("numbers", n_train=20, n_held_out=5, seed=1)
    torch.manual_seed(0)
    model = Seq2SeqRNN(len(data.source_vocab), len(data.target_vocab), embed_size=8,
                       hidden_size=16, attention=True)
    source, _ = data.held_out_pairs[0]
    words, outputs, weights = rnn_attention_map(model, data, source)
    assert words == source.split() + ["<eos>"]
    assert 1 <= len(outputs) <= data.max_target_length()
    assert weights.shape == (len(outputs), len(words))
    assert torch.allclose(weights.sum(dim=1), torch.ones(len(outputs)), atol=1e-6)
    plain = Seq2SeqRNN(len(data.source_vocab), len(data.target_vocab), embed_size=8,
                       hidden_size=16)
    with pytest.raises(ValueError, match="attention=True"):
        rnn_attention_map(plain, data, source)


@pytest.mark.parametrize("bad, name", [
    ({"source_vocab_size": 3}, "source_vocab_size"),
    ({"target_vocab_size": 0}, "target_vocab_size"),
    ({"hidden_size": 0}, "hidden_size"),
    ({"embed_size": 2.5}, "embed_size"),
])
def test_bad_sizes_are_refused(bad: dict, name: str):
    sizes = {"source_vocab_size": SOURCE_VOCAB, "target_vocab_size": TARGET_VOCAB, **bad}
    with pytest.raises(ValueError, match=name):
        Seq2SeqRNN(**sizes)


def test_bad_inputs_are_refused():
    model = make_model(attention=True)
    source = padded(random_sequences([3], SOURCE_VOCAB, 10))
    target_in = torch.tensor([[BOS, 4]])
    with pytest.raises(ValueError, match="source"):
        model(torch.tensor([[SOURCE_VOCAB, EOS]]), target_in)
    with pytest.raises(ValueError, match="source"):
        model(source.float(), target_in)
    with pytest.raises(ValueError, match="target_in"):
        model(source, torch.tensor([[BOS, TARGET_VOCAB]]))
    with pytest.raises(ValueError, match="target_in"):
        model(source, torch.tensor([[BOS, 4], [BOS, 4]]))
    with pytest.raises(ValueError, match="starts with padding"):
        model(torch.tensor([[4, EOS], [PAD, PAD]]), torch.tensor([[BOS], [BOS]]))
    with pytest.raises(ValueError, match="pad sources at the end"):
        model(torch.tensor([[4, PAD, EOS]]), target_in)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(source, max_new_tokens=0)
    with pytest.raises(ValueError, match="attention=True"):
        make_model(attention=False).generate(source, 3, return_attention=True)


@pytest.mark.parametrize("attention", [False, True])
def test_a_small_model_learns_a_few_pairs_by_heart(attention: bool):
    data = translation_data("numbers")
    pairs = data.train_pairs[:8]
    torch.manual_seed(0)
    model = Seq2SeqRNN(len(data.source_vocab), len(data.target_vocab), embed_size=16,
                       hidden_size=32, attention=attention)
    untrained = exact_match(model, data, pairs)
    batch = data.batch(pairs)
    history = train(model, lambda generator: batch, steps=150, lr=1e-2, eval_every=50,
                    progress=False)
    assert untrained < 0.5 and history.train_loss[-1] < 0.05  # mean of the last 50 steps
    assert exact_match(model, data, pairs) == 1.0


# The timing claims of chapter 2, checked on the measurements its page prints: the same calls
# as snippets/02-before-transformers/main.py:step_time, so whichever of the page and the test
# comes first measures (alone: both are serial) and the other reads the stored result.
REMEASURE_HINT = ("measured once on this machine and stored: if it was busy then, measure "
                  "again with LLM_EVOLUTION_REMEASURE=1")


@pytest.mark.serial  # a timing: run alone
def test_a_longer_sequence_costs_more_per_step():
    """The RNN reads one token after another: 8 times the length, well over twice the time."""
    seconds = step_seconds_by_length("rnn-translator", (8, 16, 32, 64, 128), batch_size=32)
    assert seconds[128] > 2 * seconds[16], (seconds, REMEASURE_HINT)


@pytest.mark.serial  # a timing: run alone
def test_the_same_tokens_cost_more_in_longer_sequences():
    """4,096 tokens as 16 sequences of 256 take longer than as 512 sequences of 8, by a third at
    least (about twice as long on 2 cores): the batch is processed side by side, the positions
    one after another."""
    wide = step_seconds_by_length("rnn-translator", (8,), batch_size=512)[8]
    long = step_seconds_by_length("rnn-translator", (256,), batch_size=16)[256]
    assert long > 1.33 * wide, (f"16 x 256: {long:.3f} s, 512 x 8: {wide:.3f} s per step",
                                REMEASURE_HINT)
