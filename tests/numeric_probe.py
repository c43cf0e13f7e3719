"""Train three small models the way the model cache does and print a hash of their weights.

Run by ``tests/test_numeric_path.py`` as ``python -m tests.numeric_probe`` in subprocesses
whose environments emulate other CPUs (MKL instruction caps, MKL's Intel path, oneDNN ISA
caps, glibc hardware-capability masks, the parent's thread variables): on the reference
numeric path every hash must be the same. ``--weaken PART`` drops one part of the recipe
(``mkl_cbwr``, ``onednn``, ``threads``, ``aten``, or the training loop's ``fused_adamw``), for
the test's negative controls. ``--small`` shrinks the models, for a run under QEMU's software
emulation of another CPU (a few hundred times slower than the real one).

The models cover every kind of kernel that decides a trained model's bits: a GPT (matmuls,
softmax, layer norm, tanh GELU, AdamW's sqrt), a BERT with dropout and erf GELU (oneDNN's
GELU when it is on), the GRU translator of chapter 2, and chapter 12's Llama-style GPT (RoPE's
rotations, RMSNorm's root, SiLU).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os

from llm_evolution import numerics

PARTS = ("mkl_cbwr", "onednn", "threads", "aten", "fused_adamw")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weaken", choices=PARTS, action="append", default=[])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--small", action="store_true",
                        help="models a fraction of the size, for a CPU emulated in software")
    parser.add_argument("--override", action="append", default=[], metavar="VAR=VALUE",
                        help="set after pinning (a CPU that would choose another ISA, say)")
    args = parser.parse_args()

    # The product's own entry point, minus the weakened parts (before torch is imported).
    if "mkl_cbwr" in args.weaken:
        del numerics.REFERENCE_ENV["MKL_CBWR"]
    if "aten" in args.weaken:
        del numerics.REFERENCE_ENV["ATEN_CPU_CAPABILITY"]
    numerics.pin_environment()
    for assignment in args.override:
        name, value = assignment.split("=", 1)
        os.environ[name] = value
    import torch

    if "fused_adamw" in args.weaken:  # the loop's AdamW without fused=True
        adamw = torch.optim.AdamW
        torch.optim.AdamW = lambda *a, **k: adamw(*a, **{**k, "fused": False})
    settings = numerics.reference_settings()
    if "onednn" in args.weaken or "threads" in args.weaken:
        settings = weakened_settings(torch, keep_threads="threads" not in args.weaken,
                                     keep_onednn_off="onednn" not in args.weaken)
    with settings:
        hashes = {name: weights_hash(train_one(name, args.steps, args.small)) for name in MODELS}
        hashes["path"] = numerics.describe()
    print(json.dumps(hashes))


@contextlib.contextmanager
def weakened_settings(torch, keep_threads: bool, keep_onednn_off: bool):
    """:func:`numerics.reference_settings` without one of its two parts: the thread count is
    then whatever the environment gave torch, and oneDNN stays on."""
    threads = torch.get_num_threads()
    if keep_threads:
        torch.set_num_threads(numerics.REFERENCE_THREADS)
    torch.backends.mkldnn.enabled = not keep_onednn_off
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def train_one(name: str, steps: int, small: bool):
    import torch

    from llm_evolution.training import random_windows, train

    torch.manual_seed(0)
    model, batches = MODELS[name](small)
    train(model, batches, steps=steps, lr=1e-3, eval_every=steps, seed=0, progress=False)
    return model


def gpt(small: bool):
    import torch

    from llm_evolution.models.gpt import GPT, GPTConfig
    from llm_evolution.training import random_windows

    ids = torch.randint(0, 65, (5000,), generator=torch.Generator().manual_seed(0))
    # nanoGPT's CPU shape, with dropout so that the random stream is exercised too.
    length, width = (16, 32) if small else (64, 128)
    return (GPT(GPTConfig(vocab_size=65, context_size=length, d_model=width, n_heads=4,
                          n_layers=2, dropout=0.1)),
            random_windows(ids, length, 4 if small else 12))


def bert(small: bool):
    import torch

    from llm_evolution.models.bert import BertConfig, BertForMaskedLM

    length, width, rows = (16, 32, 4) if small else (64, 128, 16)
    config = BertConfig(vocab_size=200, max_position=length, d_model=width, n_heads=4,
                        n_layers=2, d_ff=4 * width, dropout=0.1)

    def batches(generator):
        ids = torch.randint(1, 200, (rows, length), generator=generator)
        hidden = torch.rand(rows, length, generator=generator) < 0.15
        hidden[:, 0] = True  # at least one hidden token per row
        labels = torch.where(hidden, ids, torch.full_like(ids, -100))
        return ids.masked_fill(hidden, 3), labels

    return BertForMaskedLM(config), batches


def gru(small: bool):
    from llm_evolution.models.rnn import Seq2SeqRNN
    from llm_evolution.translation import translation_data

    data = translation_data("numbers", n_train=2000, n_held_out=100)
    model = Seq2SeqRNN(len(data.source_vocab), len(data.target_vocab),
                       embed_size=16 if small else 32, hidden_size=32 if small else 64,
                       attention=True)
    return model, data.batches("train", 4 if small else 32)


def llama(small: bool):
    import torch

    from llm_evolution.models.modern_gpt import ModernGPT, ModernGPTConfig
    from llm_evolution.training import random_windows

    ids = torch.randint(0, 65, (5000,), generator=torch.Generator().manual_seed(0))
    length, width = (16, 32) if small else (64, 128)
    config = ModernGPTConfig(vocab_size=65, context_size=length, d_model=width, n_heads=4,
                             n_layers=2, positions="rope", norm="rms", mlp="swiglu",
                             bias=False, n_kv_heads=2)
    return ModernGPT(config), random_windows(ids, length, 4 if small else 12)


MODELS = {"gpt": gpt, "bert": bert, "gru": gru, "llama": llama}

if __name__ == "__main__":
    main()
