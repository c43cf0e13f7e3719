"""Tests for llm_evolution.models.gpt, the GPT parts of llm_evolution.interop.hf, and
generation with a key-value cache.

The reference is Hugging Face ``transformers``' own ``GPT2LMHeadModel``: random models of
several shapes, built in ``transformers``, must give the same logits and the same greedy text
in our code as in theirs. Every parameter is drawn at random (not left at its initial 0 or 1),
so a bias or layer-norm tensor mapped to the wrong place, or a Conv1D weight copied without its
transpose, cannot go unnoticed.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.generation import generate
from llm_evolution.interop.hf import (
    gpt_config_from_hf,
    gpt_config_to_hf,
    gpt_from_hf,
    gpt_name_pairs,
    gpt_to_hf,
)
from llm_evolution.models.gpt import GPT, GPTConfig, KVCache
from llm_evolution.training import random_windows, train

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Small trainings and equivalence with transformers: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-5  # float32: a few units in the last place, summed over the layers

# (vocab, n_positions, n_embd, n_head, n_layer): odd widths, one layer, vocabularies that are
# not multiples of 8.
SHAPES = [(37, 48, 96, 3, 1), (101, 40, 64, 4, 2), (50, 64, 48, 2, 3)]


def hf_config(vocab, positions, width, heads, layers, attn_implementation="eager"):
    """A GPT2Config without dropout or special tokens (so generation never stops early)."""
    config = transformers.GPT2Config(
        vocab_size=vocab, n_positions=positions, n_embd=width, n_head=heads, n_layer=layers,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    config._attn_implementation = attn_implementation
    return config


def randomize(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every parameter random values, layer norms and biases included."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    return model


def random_hf_gpt(shape, seed: int, attn_implementation="eager"):
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(hf_config(*shape, attn_implementation))
    return randomize(model, seed).eval()


def random_ids(vocab: int, batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def hf_greedy(hf_model, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    return hf_model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                             max_new_tokens=new_tokens, pad_token_id=0)


# --- equivalence with transformers -------------------------------------------------------------

# Both of Hugging Face's attention code paths: "eager" (explicit softmax of masked scores) and
# "sdpa" (the same fused kernel ours calls). Both agree with ours to float32 rounding.
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_logits_equal_transformers(index, attn_implementation):
    shape = SHAPES[index]
    hf_model = random_hf_gpt(shape, seed=index, attn_implementation=attn_implementation)
    ours = gpt_from_hf(hf_model)
    assert not ours.training
    ids = random_ids(shape[0], batch=3, length=shape[1], seed=10 + index)  # full context
    with torch.no_grad():
        theirs = hf_model(ids).logits
        mine, _ = ours(ids)
    assert mine.shape == (3, shape[1], shape[0])
    assert (mine - theirs).abs().max().item() < TOLERANCE
    # the logits are not trivially small: a real comparison
    assert theirs.std().item() > 0.1


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_greedy_generation_equals_transformers(index):
    shape = SHAPES[index]
    hf_model = random_hf_gpt(shape, seed=index)
    ours = gpt_from_hf(hf_model)
    prompt = random_ids(shape[0], batch=2, length=5, seed=20 + index)
    mine = generate(ours, prompt, 30, greedy=True)
    theirs = hf_greedy(hf_model, prompt, 30)
    assert mine.shape == (2, 35)
    assert torch.equal(mine, theirs)
    assert len(set(mine[0, 5:].tolist())) > 1  # not a model stuck on one token


def test_loss_equals_transformers():
    shape = SHAPES[1]
    hf_model = random_hf_gpt(shape, seed=3)
    ours = gpt_from_hf(hf_model)
    ids = random_ids(shape[0], batch=2, length=12, seed=4)
    with torch.no_grad():
        # transformers shifts labels itself; ours takes inputs and targets already shifted
        theirs = hf_model(ids, labels=ids).loss
        _, mine = ours(ids[:, :-1], ids[:, 1:])
    assert mine.item() == pytest.approx(theirs.item(), abs=1e-5)


def test_round_trip_ours_to_hf_to_ours_is_exact():
    ours = randomize(GPT(GPTConfig(vocab_size=45, context_size=20, d_model=36, n_heads=3,
                                   n_layers=2)), seed=5).eval()
    hf_model = gpt_to_hf(ours)
    back = gpt_from_hf(hf_model)
    mine, theirs = ours.state_dict(), back.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[name], theirs[name]) for name in mine)
    # HF's Conv1D holds the transpose of our Linear, and its head is tied to the embedding
    assert torch.equal(hf_model.transformer.h[0].attn.c_attn.weight,
                       ours.blocks[0].attn.qkv.weight.T)
    assert hf_model.lm_head.weight.data_ptr() == hf_model.transformer.wte.weight.data_ptr()
    ids = random_ids(45, batch=2, length=20, seed=6)
    with torch.no_grad():
        assert (hf_model(ids).logits - ours(ids)[0]).abs().max().item() < TOLERANCE


def test_round_trip_hf_to_ours_to_hf_is_exact():
    hf_model = random_hf_gpt(SHAPES[0], seed=7)
    back = gpt_to_hf(gpt_from_hf(hf_model))
    mine, theirs = hf_model.state_dict(), back.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[name], theirs[name]) for name in mine)


def test_save_pretrained_and_reload(tmp_path):
    ours = randomize(GPT(GPTConfig(vocab_size=29, context_size=40, d_model=32, n_heads=2,
                                   n_layers=2)), seed=8).eval()
    gpt_to_hf(ours).save_pretrained(tmp_path)
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, local_files_only=True)
    prompt = random_ids(29, batch=1, length=4, seed=9)
    assert torch.equal(hf_greedy(reloaded.eval(), prompt, 30), generate(ours, prompt, 30,
                                                                       greedy=True))


def test_config_round_trip_and_float64():
    config = GPTConfig(vocab_size=31, context_size=16, d_model=24, n_heads=3, n_layers=2,
                       dropout=0.1, layer_norm_eps=1e-6)
    assert gpt_config_from_hf(gpt_config_to_hf(config)) == config
    hf_model = random_hf_gpt(SHAPES[0], seed=11).double()
    ours = gpt_from_hf(hf_model)
    assert next(ours.parameters()).dtype == torch.float64
    ids = random_ids(SHAPES[0][0], batch=2, length=9, seed=12)
    with torch.no_grad():
        assert (ours(ids)[0] - hf_model(ids).logits).abs().max().item() < 1e-12


def test_name_table_covers_every_tensor_once():
    n_layers = 2
    pairs = gpt_name_pairs(n_layers)
    ours = GPT(GPTConfig(n_layers=n_layers))
    theirs = transformers.GPT2LMHeadModel(gpt_config_to_hf(ours.config))
    assert sorted(o for o, _ in pairs) == sorted(dict(ours.named_parameters()))
    assert sorted(t for _, t in pairs) == sorted(dict(theirs.named_parameters()))


# --- the model itself --------------------------------------------------------------------------

def test_is_causal_future_tokens_do_not_change_the_past():
    model = randomize(GPT(GPTConfig(vocab_size=20, context_size=12, d_model=16, n_heads=2,
                                    n_layers=2)), seed=13).eval()
    ids = random_ids(20, batch=1, length=12, seed=14)
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 20
    with torch.no_grad():
        a, b = model(ids)[0], model(changed)[0]
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


def test_init_follows_gpt2():
    config = GPTConfig(vocab_size=500, d_model=256, n_layers=8)
    model = GPT(config)
    scaled = 0.02 / math.sqrt(2 * config.n_layers)
    assert model.token_embedding.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[3].mlp.down.weight.std().item() == pytest.approx(scaled, rel=0.05)
    assert model.blocks[3].attn.out_proj.weight.std().item() == pytest.approx(scaled, rel=0.05)
    assert torch.equal(model.blocks[0].mlp.up.bias, torch.zeros(4 * 256))
    # untrained, every next token is about equally likely: loss near ln(vocab)
    # (targets unrelated to the inputs: with a tied head, the input token itself scores high)
    ids = random_ids(500, batch=4, length=32, seed=15)
    _, loss = model(ids, random_ids(500, batch=4, length=32, seed=16))
    assert loss.item() == pytest.approx(math.log(500), abs=0.1)


def test_parameter_count_of_gpt2_small():
    # GPT-2 small has 124,439,808 parameters (with the tied head counted once), as
    # transformers' GPT2LMHeadModel reports for the default GPT2Config; check ours on the
    # meta device, where no memory is allocated.
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=50257, context_size=1024, d_model=768, n_heads=12,
                              n_layers=12))
        theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert sum(p.numel() for p in theirs.parameters()) == 124_439_808
    assert sum(p.numel() for p in model.parameters()) == 124_439_808


def test_training_on_a_repeating_pattern_drops_the_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, context_size=16, d_model=32, n_heads=2, n_layers=2))
    ids = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6] * 60)  # period 8: predictable from context
    batches = random_windows(ids, block_size=16, batch_size=16)
    history = train(model, batches, steps=100, val_batch=batches, lr=3e-3, eval_every=50,
                    progress=False)
    assert history.val_loss[0] < 0.5 * math.log(10)
    assert history.val_loss[-1] < 0.1 * math.log(10)


# --- the key-value cache -----------------------------------------------------------------------

def small_gpt(seed: int = 16) -> GPT:
    return randomize(GPT(GPTConfig(vocab_size=23, context_size=24, d_model=24, n_heads=3,
                                   n_layers=2)), seed=seed).eval()


def test_cache_gives_the_same_logits_one_token_at_a_time():
    model = small_gpt()
    ids = random_ids(23, batch=2, length=24, seed=17)
    cache = KVCache(model.config.n_layers, model.config.context_size)
    with torch.no_grad():
        full, _ = model(ids)
        steps = [model(ids[:, t:t + 1], cache=cache)[0] for t in range(24)]
    assert len(cache) == 24
    assert cache.keys[1].shape == (2, 3, 24, 8)
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < TOLERANCE


def test_cache_with_a_prompt_then_chunks():
    # a prompt of 10 on an empty cache, one token, then a chunk of 5 after the cache
    model = small_gpt()
    ids = random_ids(23, batch=1, length=16, seed=18)
    cache = KVCache(model.config.n_layers, model.config.context_size)
    with torch.no_grad():
        full, _ = model(ids)
        parts = [model(ids[:, :10], cache=cache)[0], model(ids[:, 10:11], cache=cache)[0],
                 model(ids[:, 11:], cache=cache)[0]]
    assert (torch.cat(parts, dim=1) - full).abs().max().item() < TOLERANCE
    assert (parts[-1][:, -1] - full[:, -1]).abs().max().item() < TOLERANCE


def test_cache_attention_matches_an_explicit_masked_softmax():
    # an independent reference for the chunk-after-cache mask: scores, mask by position, softmax
    model = small_gpt()
    attn = model.blocks[0].attn
    x = torch.randn(1, 7, 24, generator=torch.Generator().manual_seed(19))
    cache = KVCache(1, 7)
    with torch.no_grad():
        attn(x[:, :4], cache, 0)
        chunk = attn(x[:, 4:], cache, 0)
        q, k, v = attn.qkv(x).split(24, dim=2)
        q, k, v = (t.view(1, 7, 3, 8).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(8)
        future = torch.ones(7, 7, dtype=torch.bool).triu(diagonal=1)
        y = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v
        expected = attn.out_proj(y.transpose(1, 2).reshape(1, 7, 24))
    assert (chunk - expected[:, 4:]).abs().max().item() < TOLERANCE


def test_cache_is_allocated_once_and_written_in_place():
    model = small_gpt()
    ids = random_ids(23, batch=1, length=6, seed=23)
    cache = KVCache(model.config.n_layers, model.config.context_size)
    with torch.no_grad():
        model(ids[:, :3], cache=cache)
        buffer = cache.keys[0].data_ptr()
        model(ids[:, 3:], cache=cache)
    assert cache.keys[0].data_ptr() == buffer  # no new tensor: written into the buffer
    assert cache.keys[0].shape == (1, 3, 24, 8) and len(cache) == 6
    with pytest.raises(ValueError, match="capacity=7; start a new cache"):
        KVCache(1, 7).append(0, torch.zeros(1, 1, 8, 2), torch.zeros(1, 1, 8, 2))
    with pytest.raises(ValueError, match="pass model.config.n_layers and model.config"):
        KVCache(2, 0)


def test_next_token_logits_are_the_last_position_of_forward():
    model = small_gpt()
    ids = random_ids(23, batch=2, length=9, seed=24)
    with torch.no_grad():
        full, _ = model(ids)
        assert (model.next_token_logits(ids) - full[:, -1]).abs().max().item() < TOLERANCE
        cache = KVCache(model.config.n_layers, model.config.context_size)
        model.next_token_logits(ids[:, :8], cache)
        step = model.next_token_logits(ids[:, 8:], cache)
    assert step.shape == (2, 23)
    assert (step - full[:, -1]).abs().max().item() < TOLERANCE
    with pytest.raises(ValueError, match="context_size=24; crop the prompt"):
        model.next_token_logits(torch.zeros(1, 25, dtype=torch.long))


def test_generate_checks_the_prompt_ids_once():
    with pytest.raises(ValueError, match="prompt_ids holds ids outside"):
        generate(small_gpt(), torch.tensor([[0, 23]]), 3, greedy=True)


def test_generate_same_tokens_with_and_without_cache():
    model = small_gpt()
    prompt = random_ids(23, batch=3, length=4, seed=20)
    greedy = [generate(model, prompt, 20, greedy=True, use_cache=c) for c in (True, False)]
    assert torch.equal(greedy[0], greedy[1])
    sampled = [generate(model, prompt, 20, temperature=0.8, top_k=10, top_p=0.9, use_cache=c,
                        generator=torch.Generator().manual_seed(21)) for c in (True, False)]
    assert torch.equal(sampled[0], sampled[1])
    assert not torch.equal(sampled[0], greedy[0])  # sampling really sampled


def test_generate_respects_the_context_size_exactly():
    model = small_gpt()
    out = generate(model, random_ids(23, 1, 4, seed=22), 20, greedy=True)  # 4 + 20 = 24
    assert out.shape == (1, 24)


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"vocab_size": 0}, "vocab_size=0"),
    ({"context_size": 0}, "context_size=0"),
    ({"n_layers": 0}, "n_layers=0"),
    ({"d_model": 130, "n_heads": 4}, "d_model=130 is not divisible by n_heads=4"),
    ({"dropout": 1.0}, "dropout=1.0"),
    ({"layer_norm_eps": 0.0}, "layer_norm_eps=0.0"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GPTConfig(**kwargs)


def test_forward_errors():
    model = small_gpt()
    with pytest.raises(ValueError, match="input_ids holds ids outside"):
        model(torch.tensor([[0, 23]]))
    with pytest.raises(ValueError, match="input_ids must have shape"):
        model(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="input_ids must have shape"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="context_size=24; crop the prompt"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="targets have shape"):
        model(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    cache = KVCache(model.config.n_layers, model.config.context_size)
    model(torch.zeros(1, 20, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="20 cached \\+ 5 new tokens exceed context_size=24"):
        model(torch.zeros(1, 5, dtype=torch.long), cache=cache)


@pytest.mark.parametrize("kwargs, match", [
    ({"temperature": 0.0}, "temperature=0.0 must be > 0; use greedy=True"),
    ({"temperature": -1.0}, "temperature=-1.0"),
    ({"top_k": 0}, "top_k=0"),
    ({"top_p": 0.0}, "top_p=0.0"),
    ({"top_p": 1.5}, "top_p=1.5"),
    ({"generator": None}, "sampling needs a generator"),
])
def test_generate_sampling_errors(kwargs, match):
    model = small_gpt()
    arguments = {"generator": torch.Generator().manual_seed(0), **kwargs}
    with pytest.raises(ValueError, match=match):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 3, **arguments)


def test_generate_shape_errors():
    """(Length is no error: past the context the window slides, tests/test_generation.py.)"""
    model = small_gpt()
    with pytest.raises(ValueError, match="prompt_ids must have shape"):
        generate(model, torch.zeros(3, dtype=torch.long), 2, greedy=True)
    with pytest.raises(ValueError, match="max_new_tokens=-1"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), -1, greedy=True)
    with pytest.raises(ValueError, match="model must be a GPT"):
        generate(torch.nn.Linear(2, 2), torch.zeros(1, 2, dtype=torch.long), 1, greedy=True)


def test_unsupported_hf_configs_are_refused():
    base = dict(vocab=37, positions=16, width=32, heads=2, layers=1)
    for change, match in [
        ({"activation_function": "relu"}, "activation_function='relu'"),
        ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx=True"),
        ({"reorder_and_upcast_attn": True}, "reorder_and_upcast_attn=True"),
        ({"tie_word_embeddings": False}, "tie_word_embeddings=False"),
        ({"n_inner": 100}, "n_inner=100"),
        ({"scale_attn_weights": False}, "scale_attn_weights=False"),
        ({"attn_pdrop": 0.1}, "differ; our GPT has one dropout rate"),
    ]:
        config = hf_config(*base.values())
        for name, value in change.items():
            setattr(config, name, value)
        with pytest.raises(ValueError, match=match):
            gpt_config_from_hf(config)
    with pytest.raises(ValueError, match="GPT2LMHeadModel"):
        gpt_from_hf(transformers.GPT2Model(hf_config(*base.values())))
    with pytest.raises(ValueError, match="ours must be a GPT"):
        gpt_to_hf(torch.nn.Linear(2, 2))
