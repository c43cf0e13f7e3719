"""How big the models of this story were, from their papers: parameters, training tokens,
training compute and the accelerator time behind it, 2017-2022 (chapter 8).

Each figure is the paper's own where it gives one; where it gives none the row says so
(``None``), and compute the paper does not state is derived as 6ND (Kaplan et al., 2020,
arXiv:2001.08361, section 2.1: about 6 operations per parameter per training token), marked as
derived. Notes say where each number is in its source.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from llm_evolution.scaling import training_flops as six_n_d


class PublishedModel(NamedTuple):
    name: str
    when: date  # first public version of the paper
    parameters: float
    tokens: float | None  # training tokens; None where the paper does not say
    flops: float | None  # training compute in floating-point operations
    flops_source: str  # "paper" (its own figure), "6ND" (derived here) or who estimated it
    # (chips, hours) of training as the paper states them, and what the chips were
    accelerators: tuple[tuple[int, float], ...]
    accelerator: str
    source: str
    note: str


# --8<-- [start:published]
PUBLISHED_MODELS = [
    PublishedModel("Transformer base", date(2017, 6, 12), 65e6, 100_000 * 50_000, 3.3e18,
                   "paper", ((8, 12),), "P100 GPU",
                   "Vaswani et al., 2017, arXiv:1706.03762",
                   "parameters Table 3; FLOPs Table 2 (English-German); 100,000 steps of about "
                   "25,000 source and 25,000 target tokens (sections 5.1-5.2)"),
    PublishedModel("Transformer big", date(2017, 6, 12), 213e6, 300_000 * 50_000, 2.3e19,
                   "paper", ((8, 3.5 * 24),), "P100 GPU",
                   "Vaswani et al., 2017, arXiv:1706.03762",
                   "as the base model, 300,000 steps"),
    PublishedModel("GPT", date(2018, 6, 11), 117e6, None, None, "not stated", (), "",
                   "Radford et al., 2018 (OpenAI report)",
                   "the report gives no parameter count; 117M is GPT-2's paper's, for its "
                   "smallest model, 'equivalent to the original GPT'"),
    PublishedModel("BERT-base", date(2018, 10, 11), 110e6, 1_000_000 * 128_000, None, "6ND",
                   ((16, 4 * 24),), "Cloud TPU chip", "Devlin et al., 2018, arXiv:1810.04805",
                   "1,000,000 steps of '128,000 tokens/batch' (appendix A.2), nominal: 90% "
                   "of the steps read sequences of 128 tokens, not 512"),
    PublishedModel("BERT-large", date(2018, 10, 11), 340e6, 1_000_000 * 128_000, None, "6ND",
                   ((64, 4 * 24),), "Cloud TPU chip", "Devlin et al., 2018, arXiv:1810.04805",
                   "as BERT-base"),
    PublishedModel("GPT-2", date(2019, 2, 14), 1.5e9, None, None, "not stated", (), "",
                   "Radford et al., 2019 (OpenAI report)",
                   "sizes 124M, 355M, 774M and 1.5B as corrected in the openai/gpt-2 "
                   "repository (the paper's Table 2 printed 117M, 345M, 762M, 1542M); "
                   "training tokens not stated"),
    PublishedModel("T5-11B", date(2019, 10, 23), 11e9, 1e12, 3.30e22,
                   "Brown et al.'s estimate", (), "",
                   "Raffel et al., 2019, arXiv:1910.10683",
                   "'about 1 trillion' pre-training tokens (section 3.7); no compute in the "
                   "paper: 3.30e22 is GPT-3's Table D.1 estimate (each token passes through "
                   "the encoder or the decoder, half the parameters, so 6ND would double it)"),
    PublishedModel("GPT-3", date(2020, 5, 28), 175e9, 300e9, 3.14e23, "paper", (), "",
                   "Brown et al., 2020, arXiv:2005.14165",
                   "Table D.1, where the compute is also 3,640 petaflop/s-days; trained on "
                   "V100 GPUs (section 2.3), how many and for how long not stated"),
    PublishedModel("Gopher", date(2021, 12, 8), 280e9, 300e9, 5.76e23,
                   "Hoffmann et al.", (), "", "Rae et al., 2021, arXiv:2112.11446",
                   "compute as the Chinchilla paper gives Gopher's budget (Figure 2, "
                   "Table 3)"),
    PublishedModel("Chinchilla", date(2022, 3, 29), 70e9, 1.4e12, 5.76e23, "paper", (), "",
                   "Hoffmann et al., 2022, arXiv:2203.15556",
                   "the same compute as Gopher, four times the tokens (section 4)"),
    PublishedModel("PaLM", date(2022, 4, 5), 540e9, 780e9, None, "6ND",
                   ((6144, 1200), (3072, 336)), "TPU v4 chip",
                   "Chowdhery et al., 2022, arXiv:2204.02311",
                   "hardware and hours from appendix B; compute derived here as 6ND (the "
                   "paper also counts it its own way, in a table not checked here)"),
]
# --8<-- [end:published]

# --8<-- [start:frontier]
# After this story: the first open model whose own paper states a training compute above the EU
# AI Act's line (chapter 12). Not in PUBLISHED_MODELS, which is chapter 8's table of 2017-2022.
LLAMA_3_405B = PublishedModel(
    "Llama 3 405B", date(2024, 7, 31), 405e9, 15.6e12, 3.8e25, "paper", (), "",
    "Llama Team, AI @ Meta, 2024, arXiv:2407.21783",
    "section 1: 'pre-trained using 3.8 x 10^25 FLOPs' on 15.6T text tokens")
# --8<-- [end:frontier]

# Regulation (EU) 2024/1689 (the AI Act) of 13 June 2024, Article 51(2): a general-purpose AI
# model is presumed to have high-impact capabilities (and so systemic risk, Article 51(1)(a))
# "when the cumulative amount of computation used for its training measured in floating point
# operations is greater than 10^25". Article 51(3) lets the Commission amend the threshold.
EU_AI_ACT_THRESHOLD_FLOPS = 1e25


def accelerator_days(model: PublishedModel) -> float | None:
    """Days of one accelerator chip the training took, where the paper says: chips x hours,
    summed over the stages of training, over 24."""
    if not model.accelerators:
        return None
    return sum(chips * hours for chips, hours in model.accelerators) / 24


def training_flops(model: PublishedModel) -> float | None:
    """The model's training compute: the paper's (or the cited estimate), else 6ND where the
    tokens are known, else None."""
    if model.flops is not None:
        return model.flops
    if model.tokens is None:
        return None
    return six_n_d(model.parameters, model.tokens)


# --8<-- [start:training_setups]
class TrainingSetup(NamedTuple):
    """How one model's training was split over its accelerators (chapter 9), as its paper
    says: the degree of each kind of parallelism, 1 where it uses none, "used" where the
    paper names it without a degree and "?" where it does not say."""
    name: str
    accelerators: str
    tensor: int | str  # ways each weight matrix is split (Megatron's "model parallel")
    pipeline: int | str  # stages the layers are cut into
    data: int | str  # copies (or, sharded, slices) of the model reading different data
    utilisation: str  # how well the chips were used, in the source's own measure
    source: str
    note: str


TRAINING_SETUPS = [
    TrainingSetup(
        "Megatron-LM 8.3B", "512 V100 GPUs (32 servers of 16)", 8, 1, 64,
        "15.1 PFLOP/s, 76% of linear scaling from one GPU's 39 TFLOP/s (74% in section 5.1's "
        "weak-scaling plot)",
        "Shoeybi et al., 2019, arXiv:1909.08053",
        "abstract and section 5; 8-way model parallel inside a server, 64-way data parallel "
        "across; section 5.1 gives 74% for the same 512 GPUs in its weak-scaling plot"),
    TrainingSetup(
        "GPT-3 175B", "V100 GPUs (count not stated)", "used", "used", "?",
        "21.3% model FLOPs utilisation, as PaLM's authors computed it",
        "Brown et al., 2020, arXiv:2005.14165",
        "section 2.3: 'a mixture of model parallelism within each matrix multiply and model "
        "parallelism across the layers'; the utilisation is Chowdhery et al. (2022), Table 3"),
    TrainingSetup(
        "PaLM 540B", "6,144 TPU v4 chips (2 pods of 3,072)", 12, 1, 2 * 256,
        "46.2% model FLOPs utilisation",
        "Chowdhery et al., 2022, arXiv:2204.02311",
        "section 4: in each pod 12-way model parallel and 256-way fully sharded data "
        "parallel, 2-way data parallel across the pods (Pathways), no pipeline; Table 3"),
]
# --8<-- [end:training_setups]
