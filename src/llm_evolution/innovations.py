"""What became of the book's innovations, 2014 to 2023: who introduced each, and whether
today's open models still use it, replaced it (by what, and from whom) or dropped it.

One list feeds chapter 12's chart and its table, so a year or a fate is written once; the
tests check every arXiv id against the papers page. A fate is not an opinion: each names the
paper that documents it (``evidence``), usually the report of a model that made the change.
"""

from __future__ import annotations

from dataclasses import dataclass

FATES = ("lives", "replaced", "dropped")


@dataclass(frozen=True)
class Innovation:
    """One idea, where it came from, and what became of it."""

    name: str
    year: int  # the first public version of the paper that introduced it
    introduced_by: str  # authors, year and arXiv id (or venue)
    fate: str  # one of FATES
    evidence: str  # the paper that documents the fate, and where in it
    successor: str = ""  # what replaced it (fate "replaced")
    successor_year: int | None = None  # when the successor was introduced
    ended_year: int | None = None  # when it was dropped (fate "dropped"): the evidence's year

    def __post_init__(self) -> None:
        if self.fate not in FATES:
            raise ValueError(f"fate={self.fate!r} must be one of {FATES}")
        if (self.fate == "replaced") != bool(self.successor and self.successor_year):
            raise ValueError(f"{self.name}: a replaced innovation names its successor and "
                             "the successor's year; the others name none")
        if (self.fate == "dropped") != (self.ended_year is not None):
            raise ValueError(f"{self.name}: a dropped innovation names the year it was "
                             "dropped (ended_year); the others name none")
        end = self.successor_year or self.ended_year
        if end is not None and end < self.year:
            raise ValueError(f"{self.name}: it ends in {end}, before year={self.year}")


# The reports where today's block is written down. Llama's section 2.2 lists its changes to the
# original Transformer, each with the model it took it from: pre-normalization with RMSNorm,
# SwiGLU, rotary embeddings. PaLM's section 2 gives its reasons.
LLAMA = "Touvron et al., 2023, arXiv:2302.13971"
PALM = "Chowdhery et al., 2022, arXiv:2204.02311, section 2"

# --8<-- [start:innovations]
INNOVATIONS = [
    Innovation("RNN encoder-decoder", 2014,
               "Cho et al., 2014, arXiv:1406.1078; Sutskever et al., 2014, arXiv:1409.3215",
               "replaced", "Vaswani et al., 2017, arXiv:1706.03762, abstract: "
               "'dispensing with recurrence and convolutions entirely'",
               successor="Transformer", successor_year=2017),
    Innovation("Additive attention", 2014, "Bahdanau et al., 2014, arXiv:1409.0473",
               "replaced", "Vaswani et al., 2017, arXiv:1706.03762, section 3.2.1: "
               "dot products are 'much faster and more space-efficient in practice'",
               successor="scaled dot products", successor_year=2017),
    Innovation("LayerNorm", 2016, "Ba et al., 2016, arXiv:1607.06450", "replaced",
               f"{LLAMA}, section 2.2", successor="RMSNorm", successor_year=2019),
    Innovation("GELU feed-forward", 2016, "Hendrycks and Gimpel, 2016, arXiv:1606.08415",
               "replaced", f"{PALM}: SwiGLU 'significantly' better than ReLU, GeLU or Swish",
               successor="SwiGLU", successor_year=2020),
    # Pre-LN has no one introducing paper: it came from the Transformer authors' Tensor2Tensor
    # code and was first written up in 2018 (Baevski and Auli, arXiv:1809.10853); GPT-2 (2019)
    # made it the GPT default.
    Innovation("Post-LN", 2017, "Vaswani et al., 2017, arXiv:1706.03762", "replaced",
               f"Radford et al., 2019 (GPT-2), section 2.3; {LLAMA}, section 2.2: "
               "'Pre-normalization'", successor="pre-LN", successor_year=2018),
    Innovation("Sinusoidal positions", 2017, "Vaswani et al., 2017, arXiv:1706.03762",
               "replaced", "Radford et al., 2018 (GPT), section 4.1: 'learned position "
               "embeddings instead of the sinusoidal version'",
               # learned positions are older (Gehring et al., below); 2018 is when GPT and
               # BERT adopted them in place of the sinusoids
               successor="learned positions", successor_year=2018),
    Innovation("Learned positions", 2017, "Gehring et al., 2017, arXiv:1705.03122",
               "replaced", f"{LLAMA}, section 2.2: 'We remove the absolute positional "
               "embeddings'", successor="RoPE", successor_year=2021),
    Innovation("A key and value per head", 2017, "Vaswani et al., 2017, arXiv:1706.03762",
               "replaced", "Touvron et al., 2023, arXiv:2307.09288, section 2.2 (Llama 2, "
               "its two largest sizes); Llama Team, 2024, arXiv:2407.21783, section 3.2",
               successor="grouped-query attention", successor_year=2023),
    Innovation("Biases in every layer", 2017,
               "as in most networks before it: Vaswani et al., 2017, arXiv:1706.03762",
               "dropped", f"{PALM}: 'No biases ... increased training stability'",
               ended_year=2022),
    Innovation("Dropout in pretraining", 2018,
               "Radford et al., 2018 (GPT), section 4.1: 'dropouts with a rate of 0.1' "
               "(dropout itself: Hinton et al., 2012, arXiv:1207.0580)",
               "dropped", "Chowdhery et al., 2022, arXiv:2204.02311, section 5: 'trained "
               "without dropout'", ended_year=2022),
    Innovation("Next-sentence prediction", 2018, "Devlin et al., 2018, arXiv:1810.04805",
               "dropped", "Liu et al., 2019, arXiv:1907.11692, section 4.2: removing it "
               "'matches or slightly improves' results", ended_year=2019),
    Innovation("RLHF with PPO", 2017,
               "Christiano et al., 2017, arXiv:1706.03741 (preferences); with PPO on language "
               "models, Ziegler et al., 2019, arXiv:1909.08593",
               "replaced", "Llama Team, 2024, arXiv:2407.21783, section 4.1.4: DPO 'required "
               "less compute' than PPO 'and performed better'",
               successor="DPO", successor_year=2023),
    Innovation("BPE", 2015, "Sennrich et al., 2015, arXiv:1508.07909", "lives",
               f"{LLAMA}, section 2.1"),
    Innovation("Decoder-only Transformer", 2018, "Liu et al., 2018, arXiv:1801.10198",
               "lives", "Llama Team, 2024, arXiv:2407.21783, section 3.2: 'a standard, dense "
               "Transformer'"),
    Innovation("AdamW", 2017, "Loshchilov and Hutter, 2017, arXiv:1711.05101", "lives",
               f"{LLAMA}, section 2.3"),
    Innovation("Mixed precision", 2017, "Micikevicius et al., 2017, arXiv:1710.03740",
               "lives", "Llama Team, 2024, arXiv:2407.21783, section 3.3 (BF16)"),
    Innovation("LoRA", 2021, "Hu et al., 2021, arXiv:2106.09685", "lives",
               "Dettmers et al., 2023, arXiv:2305.14314, abstract (QLoRA)"),
    Innovation("RoPE", 2021, "Su et al., 2021, arXiv:2104.09864", "lives",
               f"{LLAMA}, section 2.2; {PALM}"),
    Innovation("RMSNorm", 2019, "Zhang and Sennrich, 2019, arXiv:1910.07467", "lives",
               f"{LLAMA}, section 2.2"),
    Innovation("SwiGLU", 2020, "Shazeer, 2020, arXiv:2002.05202", "lives",
               f"{LLAMA}, section 2.2; {PALM}"),
    Innovation("Grouped-query attention", 2023, "Ainslie et al., 2023, arXiv:2305.13245",
               "lives", "Llama Team, 2024, arXiv:2407.21783, section 3.2: 'to reduce the "
               "size of key-value caches'"),
    Innovation("DPO", 2023, "Rafailov et al., 2023, arXiv:2305.18290", "lives",
               "Llama Team, 2024, arXiv:2407.21783, section 4.1.4; Tunstall et al., 2023, "
               "arXiv:2310.16944 (Zephyr)"),
]
# --8<-- [end:innovations]
