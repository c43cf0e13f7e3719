"""llm_evolution.evaluation.evaluating: eval mode and no gradients inside, the old mode after."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llm_evolution.evaluation import evaluating


def dropout_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))


@pytest.mark.parametrize("training", [True, False], ids=["from training", "from eval"])
def test_eval_mode_and_no_gradients_inside_then_the_old_mode(training):
    model = dropout_model().train(training)
    with evaluating(model) as inside:
        assert inside is model
        assert not any(m.training for m in model.modules())
        assert not torch.is_grad_enabled()
        x = torch.randn(3, 4)
        assert torch.equal(model(x), model(x))  # dropout is off
        assert not model(x).requires_grad
    assert all(m.training == training for m in model.modules())
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("training", [True, False], ids=["from training", "from eval"])
def test_the_old_mode_comes_back_when_the_block_raises(training):
    model = dropout_model().train(training)
    with pytest.raises(RuntimeError, match="measured code failed"):
        with evaluating(model):
            raise RuntimeError("measured code failed")
    assert all(m.training == training for m in model.modules())
    assert torch.is_grad_enabled()


def test_nested_use_keeps_the_outer_mode():
    model = dropout_model().train()
    with evaluating(model):
        with evaluating(model):
            pass
        assert not model.training  # the inner block gives back eval mode, not training
    assert model.training
