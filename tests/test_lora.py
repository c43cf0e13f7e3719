"""LoRA against Hugging Face's ``peft`` on the same weights, merging, and trainable new rows."""

from __future__ import annotations

import copy

import pytest
import torch

from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.models.lora import (
    LORA_TARGETS,
    LoRALinear,
    add_lora,
    fold_new_rows,
    merge_lora,
    train_new_rows,
)

peft = pytest.importorskip("peft", reason="peft is in the test extras: pip install -e .[test]")

CONFIG = GPTConfig(vocab_size=50, context_size=16, d_model=32, n_heads=4, n_layers=2)
RANK, ALPHA = 4, 8.0


def pretrained() -> GPT:
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


def ids() -> torch.Tensor:
    return torch.randint(CONFIG.vocab_size, (3, 12), generator=torch.Generator().manual_seed(1))


def with_random_b(model: torch.nn.Module) -> None:
    """LoRA's B starts at zero, which would hide a wrong A or scaling: give it values."""
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, LoRALinear):
            module.lora_B.data = torch.randn(module.lora_B.shape, generator=generator) * 0.1


def test_lora_equals_peft_with_the_same_weights():
    ours = add_lora(pretrained(), RANK, ALPHA)
    with_random_b(ours)
    config = peft.LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=list(LORA_TARGETS),
                             lora_dropout=0.0, bias="none")
    theirs = peft.get_peft_model(pretrained(), config).eval()
    # Copy our adapters into peft's: same A and B, so the outputs must agree.
    their_modules = dict(theirs.base_model.model.named_modules())
    for name, module in ours.named_modules():
        if isinstance(module, LoRALinear):
            layer = their_modules[name]
            layer.lora_A["default"].weight.data.copy_(module.lora_A)
            layer.lora_B["default"].weight.data.copy_(module.lora_B)
            assert layer.scaling["default"] == module.scaling
    ours_logits, _ = ours(ids())
    their_logits, _ = theirs(ids())
    torch.testing.assert_close(ours_logits, their_logits, rtol=0, atol=1e-6)
    trainable, _ = theirs.get_nb_trainable_parameters()
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == trainable


def test_lora_initialises_as_peft_does():
    """Same shapes and distribution at the start: A like nn.Linear's weight, B zero."""
    ours = add_lora(pretrained(), RANK, ALPHA)
    theirs = peft.get_peft_model(pretrained(), peft.LoraConfig(
        r=RANK, lora_alpha=ALPHA, target_modules=list(LORA_TARGETS)))
    their_modules = dict(theirs.base_model.model.named_modules())
    for name, module in ours.named_modules():
        if isinstance(module, LoRALinear):
            layer = their_modules[name]
            assert module.lora_A.shape == layer.lora_A["default"].weight.shape
            assert torch.count_nonzero(module.lora_B) == 0
            bound = 1 / module.lora_A.shape[1] ** 0.5  # kaiming_uniform(a=sqrt(5))
            assert module.lora_A.abs().max() <= bound
            assert layer.lora_A["default"].weight.abs().max() <= bound


def test_a_fresh_adapter_changes_nothing_and_freezes_the_base():
    base = pretrained()
    adapted = add_lora(copy.deepcopy(base), RANK, ALPHA)
    torch.testing.assert_close(adapted(ids())[0], base(ids())[0], rtol=0, atol=0)
    trainable = {name for name, p in adapted.named_parameters() if p.requires_grad}
    assert trainable and all(name.endswith(("lora_A", "lora_B")) for name in trainable)


def test_merged_model_computes_the_same():
    adapted = add_lora(pretrained(), RANK, ALPHA)
    with_random_b(adapted)
    before, _ = adapted(ids())
    merged = merge_lora(adapted)
    assert not any(isinstance(m, LoRALinear) for m in merged.modules())
    after, _ = merged(ids())
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)


def test_only_the_new_rows_train_and_the_head_sees_them():
    model = pretrained()
    old_rows = model.token_embedding.weight[:-2].detach().clone()
    model.requires_grad_(False)
    train_new_rows(model.token_embedding, 2)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    inputs = torch.tensor([[CONFIG.vocab_size - 1, 3, 4]])
    _, loss = model(inputs, torch.tensor([[CONFIG.vocab_size - 2, 5, 6]]))
    loss.backward()
    optimizer.step()
    fold_new_rows(model.token_embedding)
    weight = model.token_embedding.weight
    assert torch.equal(weight[:-2], old_rows)
    assert not torch.equal(weight[-2:], pretrained().token_embedding.weight[-2:])


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="rank=0"):
        LoRALinear(torch.nn.Linear(4, 4), 0, 1.0)
    with pytest.raises(ValueError, match="targets"):
        add_lora(pretrained(), RANK, ALPHA, targets=("nothing",))
    with pytest.raises(ValueError, match="n_new=0"):
        train_new_rows(torch.nn.Embedding(5, 2), 0)
