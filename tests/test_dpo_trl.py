"""Our DPO loss against TRL's, computed by a real ``trl.DPOTrainer`` on the same batch.

TRL 1.16 has no standalone DPO loss function: the loss lives inside
``DPOTrainer._compute_loss``, which runs the policy and the reference model itself (through
TRL's fused LM head, which returns per-token log-probabilities of the completion tokens), sums
them per answer and applies the loss. So the reference here is that whole code path, on a real
trainer built offline in a second or two: a 2-layer GPT-2 built from a config, a word-level
tokenizer built in-process with ``tokenizers``, and a 4-pair ``datasets.Dataset`` that TRL
prepares itself (prompt extraction, EOS, tokenization, its own collator). The reference model is
a differently initialised GPT-2, so the log-ratios, and therefore beta, matter.

Our side computes each answer's summed log-probability from the same models' plain logits
(``log_softmax`` + ``gather`` over the completion tokens that TRL's collator marks) and applies
:func:`llm_evolution.alignment.dpo_loss`. Two reference paths of TRL are checked: the reference
model run inside the loss (``ref_model=``), and ``precompute_ref_log_probs=True``, where TRL
stores the reference log-probabilities in the dataset first. A wrong beta or swapped
chosen/rejected answers must give a different value, so the comparison can fail.
"""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from trl import DPOConfig, DPOTrainer

from llm_evolution.alignment import dpo_loss

# DPOConfig itself passes transformers 5 the old `gradient_checkpointing` name.
pytestmark = pytest.mark.filterwarnings(
    "ignore:`(is_)?gradient_checkpointing` is deprecated:FutureWarning")

PAIRS = {  # prompts and answers of different lengths, so padding and masks matter
    "prompt": ["the cat", "a dog runs", "the bird", "a fish swims in"],
    "chosen": [" sat on the mat", " home", " sings a song", " the sea"],
    "rejected": [" ran", " away from the cat", " fell", " a tree on the mat"],
}
SPECIALS = ["<pad>", "<unk>", "<eos>"]
BETAS = (0.1, 0.5)


def tokenizer() -> PreTrainedTokenizerFast:
    words = sorted({word for texts in PAIRS.values() for text in texts for word in text.split()})
    vocab = {token: i for i, token in enumerate(SPECIALS + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Special tokens are split off before pre-tokenization: TRL appends "<eos>" to "mat".
    backend.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                   unk_token="<unk>", eos_token="<eos>")


def tiny_gpt2(vocab_size: int, seed: int) -> GPT2LMHeadModel:
    config = GPT2Config(vocab_size=vocab_size, n_positions=32, n_embd=16, n_layer=2, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)  # training mode, as in a training step (no dropout)


def trainer(tmp_path, beta: float, precompute: bool) -> DPOTrainer:
    tok = tokenizer()
    policy, reference = tiny_gpt2(len(tok), seed=0), tiny_gpt2(len(tok), seed=1)
    args = DPOConfig(output_dir=str(tmp_path), beta=beta, loss_type=["sigmoid"],
                     precompute_ref_log_probs=precompute, per_device_train_batch_size=4,
                     bf16=False, gradient_checkpointing=False, use_cpu=True, report_to="none",
                     disable_tqdm=True, max_length=None, seed=0)
    return DPOTrainer(model=policy, ref_model=reference, args=args,
                      train_dataset=Dataset.from_dict(PAIRS), processing_class=tok)


def summed_logps(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Each answer's summed log-probability, from the model's logits: (chosen, rejected)."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["input_ids"][:, 1:]
    token_logps = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    token_logps = token_logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    summed = (token_logps * batch["completion_mask"][:, 1:]).sum(dim=1).float()
    return summed.chunk(2)  # TRL's collator stacks the chosen rows, then the rejected ones


@pytest.mark.parametrize("precompute", [False, True], ids=["ref-model", "precomputed-ref"])
@pytest.mark.parametrize("beta", BETAS)
def test_dpo_loss_equals_trl(tmp_path, beta, precompute):
    dpo = trainer(tmp_path, beta, precompute)
    batch = next(iter(dpo.get_train_dataloader()))
    assert batch["input_ids"].shape[0] == 2 * len(PAIRS["prompt"])
    # The collator pads (right) and marks only completion tokens, EOS included.
    assert 0 < batch["completion_mask"].sum() < batch["attention_mask"].sum()
    if precompute:
        assert dpo.ref_model is not None and "ref_chosen_logps" in batch

    theirs = dpo.compute_loss(dpo.model, batch).detach()

    policy_chosen, policy_rejected = summed_logps(dpo.model, batch)
    reference_chosen, reference_rejected = summed_logps(dpo.ref_model, batch)
    ours = dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)

    # The trainer logs what it summed: the same per-answer log-probabilities and rewards as ours.
    assert dpo.model.training  # so the trainer logged under "train"
    metrics = {key: values[-1] for key, values in dpo._metrics["train"].items()}
    assert metrics["logps/chosen"] == pytest.approx(policy_chosen.mean().item(), abs=1e-4)
    assert metrics["logps/rejected"] == pytest.approx(policy_rejected.mean().item(), abs=1e-4)
    margins = beta * ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected))
    assert metrics["rewards/margins"] == pytest.approx(margins.mean().item(), abs=1e-5)
    assert margins.abs().min() > 1e-3  # the two models differ, so beta and order are visible

    # The comparison can fail: another beta, or chosen and rejected swapped, give other values.
    for wrong in (
        dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, 2 * beta),
        dpo_loss(policy_rejected, policy_chosen, reference_rejected, reference_chosen, beta),
    ):
        assert abs(wrong.item() - theirs.item()) > 1e-4
