"""Chapter 7's comparison at full scale: fine-tuning on k examples against reading them in the
prompt, for every held-out rule at once.

:func:`llm_evolution.in_context.fine_tune_vs_in_context` fine-tunes one copy of the model for
one rule, with the book's training loop: clear, but about half a second per rule, too slow for
every held-out rule, every k and several seeds on a page. Here the copies are stacked and
trained together (``torch.func``: one batched computation, each copy with its own examples and
its own AdamW state), with the same update as the loop's: AdamW with PyTorch's defaults, the
gradient norm of each copy clipped to 1, a constant learning rate. A test checks the weights
against the loop's, copy by copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

from llm_evolution.data.tasks import (
    EXAMPLE_LENGTH,
    N_BITS,
    Rule,
    apply_codes,
    draw_sequences,
    rule_codes,
    split_rules,
)
from llm_evolution.evaluation import evaluating
from llm_evolution.measurements import measured
from llm_evolution.models.gpt import GPT, check_inputs
from llm_evolution.models.gpt_classifier import final_hidden_states

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, as the loop uses


class Logits(nn.Module):
    """``GPT.forward``'s logits without its input checks, which ask whether any id is out of
    range (a data-dependent ``if`` that ``vmap`` cannot trace): the ids are checked once,
    before. A test checks these logits against ``GPT.forward``'s (to float rounding: the
    attention is computed unfused)."""

    def __init__(self, gpt: GPT):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # Attention as plain matrix products and a softmax: vmap batches those over the copies,
        # where the fused CPU kernel has no batching rule and would run copy after copy.
        with sdpa_kernel(SDPBackend.MATH):
            hidden = final_hidden_states(self.gpt, input_ids, check=False)
        return F.linear(hidden, self.gpt.token_embedding.weight)  # the tied output layer


# --8<-- [start:fine_tune_copies]
def fine_tune_copies(model: GPT, inputs: torch.Tensor, targets: torch.Tensor,
                     mask: torch.Tensor, steps: int = 30, lr: float = 1e-3,
                     grad_clip: float = 1.0) -> dict[str, torch.Tensor]:
    """Fine-tune one copy of ``model`` per row of ``inputs``, ``targets`` and ``mask``
    (copies, sequences, length): ``steps`` steps of AdamW on that copy's whole batch, the loss
    counting the masked positions only. Returns the copies' parameters, stacked (copies, ...)."""
    if not inputs.shape == targets.shape == mask.shape or inputs.dim() != 3:
        raise ValueError(f"inputs, targets and mask must have one shape (copies, sequences, "
                         f"length), got {tuple(inputs.shape)}, {tuple(targets.shape)} and "
                         f"{tuple(mask.shape)}")
    check_inputs(model.config, inputs.flatten(0, 1))
    copies, logits_of = inputs.size(0), Logits(model)
    params = {name: p.detach().expand(copies, *p.shape).clone()
              for name, p in logits_of.named_parameters()}
    buffers = dict(logits_of.named_buffers())

    def loss_of_one_copy(params, inputs, targets, mask):
        logits = functional_call(logits_of, (params, buffers), (inputs,))
        losses = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        weights = mask.flatten().float()
        return (losses * weights).sum() / weights.sum()  # the mean over the masked positions

    gradients_of_each_copy = vmap(grad(loss_of_one_copy))
    was_training = model.training
    model.train()  # as the loop trains (the model has no dropout: it changes nothing here)
    try:
        _adamw_steps(gradients_of_each_copy, params, (inputs, targets, mask), steps, lr,
                     grad_clip)
    finally:
        model.train(was_training)
    return params


def exact_sqrt(values: torch.Tensor) -> torch.Tensor:
    """The correctly rounded square root of float32 ``values``, on every CPU. Tensor.sqrt's
    float32 vector code refines a hardware estimate whose last bit differs between CPU makers;
    in float64 the square root is exact, and rounding it to float32 keeps it exact."""
    return values.double().sqrt().to(values.dtype)


def _adamw_steps(gradients_of_each_copy, params: dict[str, torch.Tensor], batch: tuple,
                 steps: int, lr: float, grad_clip: float) -> None:
    """``steps`` updates of every copy in ``params``, in place: torch.optim.AdamW's update
    (no weight decay) after clip_grad_norm_, each copy on its own."""
    beta1, beta2 = ADAM_BETAS
    first = {name: torch.zeros_like(p) for name, p in params.items()}  # AdamW's moments
    second = {name: torch.zeros_like(p) for name, p in params.items()}
    with torch.no_grad():
        for step in range(1, steps + 1):
            grads = gradients_of_each_copy(params, *batch)
            # clip_grad_norm_, per copy: scale its gradients so their joint norm is <= clip
            norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0)
            scale = (grad_clip / (exact_sqrt(norm) + 1e-6)).clamp(max=1.0)
            for name, p in params.items():
                g = grads[name] * scale.view(-1, *[1] * (p.dim() - 1))
                first[name].lerp_(g, 1 - beta1)  # m = beta1 m + (1 - beta1) g
                second[name].mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 v + ...
                denominator = (exact_sqrt(second[name]) / (1 - beta2**step) ** 0.5).add_(ADAM_EPS)
                p.addcdiv_(first[name], denominator, value=-lr / (1 - beta1**step))
# --8<-- [end:fine_tune_copies]


# --8<-- [start:compare_all_rules]
def all_queries(rules: list[Rule]) -> torch.Tensor:
    """Every query of every rule as one example with its true output bits, ending before its
    ";": (rules, 2**N_BITS, 2 * N_BITS) token ids x0 y0 x1 y1 ..."""
    queries = (torch.arange(2**N_BITS)[:, None] >> torch.arange(N_BITS - 1, -1, -1)) & 1
    codes = rule_codes(rules)[:, None, :].expand(-1, len(queries), -1)
    outputs = apply_codes(codes, queries.expand_as(codes))
    return torch.stack([queries.expand_as(codes), outputs], dim=3).flatten(2)


def right_answers(logits: torch.Tensor, sequences: torch.Tensor, start: int) -> torch.Tensor:
    """Whether each sequence's query, at ``start`` in it, is answered right: every output bit
    is the most likely token after its input bit. One teacher-forced pass gives greedy
    decoding's verdict (a wrong bit makes both wrong; with all bits right they see the same)."""
    inputs_at = start + 2 * torch.arange(N_BITS)
    predicted = logits[..., inputs_at, :].argmax(dim=-1)
    return (predicted == sequences[..., inputs_at + 1]).all(dim=-1)


def compare_on_examples(model: GPT, rules: list[Rule], examples: torch.Tensor,
                        is_output: torch.Tensor, k: int, steps: int = 30, lr: float = 1e-3
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(in-context, fine-tuned) accuracy per rule (each of shape (rules,)) on all 16 queries,
    from each rule's k solved ``examples`` (rules, EXAMPLE_LENGTH * k): in the prompt of the
    unchanged model, or as the batch of its own fine-tuned copy, which answers with no prompt."""
    queries = all_queries(rules)  # (rules, 16, 8)
    n_queries = queries.size(1)
    prompts = torch.cat([examples[:, None].expand(-1, n_queries, -1), queries], dim=2)
    with evaluating(model), torch.no_grad():
        logits, _ = model(prompts.flatten(0, 1))
    in_context = right_answers(logits, prompts.flatten(0, 1), examples.size(1))
    pairs = examples.view(len(rules), k, EXAMPLE_LENGTH)  # each example a sequence of its own
    mask = is_output.view(len(rules), k, EXAMPLE_LENGTH)
    params = fine_tune_copies(model, pairs[..., :-1], pairs[..., 1:], mask[..., 1:], steps, lr)
    logits_of = Logits(model)
    buffers = dict(logits_of.named_buffers())
    with evaluating(model), torch.no_grad():
        logits = vmap(lambda p, x: functional_call(logits_of, (p, buffers), (x,)))(params,
                                                                                 queries)
    fine_tuned = right_answers(logits, queries, 0)
    return (in_context.view(len(rules), n_queries).float().mean(1),
            fine_tuned.float().mean(1))


def fine_tune_vs_in_context_all(model: GPT, rules: list[Rule], k: int, seed: int,
                                steps: int = 30, lr: float = 1e-3
                                ) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`compare_on_examples` with k fresh solved examples per rule, drawn with ``seed``."""
    if k < 1:
        raise ValueError(f"k={k} must be >= 1: fine-tuning needs at least one example")
    examples, is_output = draw_sequences(rule_codes(rules), k,
                                         torch.Generator().manual_seed(seed))
    return compare_on_examples(model, rules, examples, is_output, k, steps, lr)
# --8<-- [end:compare_all_rules]


# --8<-- [start:fine_tuning_table]
@measured  # a minute or more of fine-tuning on one core: once per machine, then read back
def fine_tuning_table(ks: tuple[int, ...] = (1, 2, 4, 8), seeds: tuple[int, ...] = (0, 1, 2)
                      ) -> dict[int, dict[str, list[float]]]:
    """Chapter 7's trained model on every held-out rule: for each k and seed (a fresh draw of
    k examples per rule), the mean accuracy over the rules in context and fine-tuned,
    ``{k: {"in context": [one per seed], "fine-tuned": [...]}}``."""
    from llm_evolution import zoo

    model = zoo.get("icl-gpt").model
    _, held_out_rules = split_rules(zoo.find("icl-gpt").config["n_held_out"])
    table = {}
    for k in ks:  # every seed's copies fine-tuned together
        drawn = [draw_sequences(rule_codes(held_out_rules), k,
                                torch.Generator().manual_seed(seed)) for seed in seeds]
        in_context, fine_tuned = compare_on_examples(
            model, held_out_rules * len(seeds), torch.cat([ids for ids, _ in drawn]),
            torch.cat([mask for _, mask in drawn]), k)
        table[k] = {"in context": in_context.view(len(seeds), -1).mean(1).tolist(),
                    "fine-tuned": fine_tuned.view(len(seeds), -1).mean(1).tolist()}
    return table
# --8<-- [end:fine_tuning_table]
