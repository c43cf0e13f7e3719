"""The milestones of the story, 2017 to 2022, with the paper (or announcement) behind each.

One list feeds the home page's timeline and model family tree and is checked against the
papers page by the tests, so a date is written once. Dates are those of the first public
version (arXiv v1, or the announcement for work released without a paper on arXiv).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Which parts of the 2017 Transformer a model keeps: both halves, the encoder alone (it reads
# a whole text at once) or the decoder alone (it writes one token after another).
FAMILIES = ("encoder-only", "encoder-decoder", "decoder-only")


@dataclass(frozen=True)
class Milestone:
    """One step on the timeline and its source."""

    when: date
    label: str  # short name drawn on the timeline
    source: str  # authors and title, as cited on the papers page
    reference: str  # arXiv id, or where it was announced
    era: str  # the chapter theme it belongs to
    # One of FAMILIES for a Transformer model, as its source describes it; None for work that
    # is not one (ELMo is an LSTM, the scaling laws are a study of many models).
    family: str | None = None


MILESTONES: list[Milestone] = [
    Milestone(date(2017, 6, 12), "Transformer",
              "Vaswani et al., Attention Is All You Need", "arXiv:1706.03762", "architecture",
              family="encoder-decoder"),
    Milestone(date(2018, 2, 15), "ELMo",
              "Peters et al., Deep contextualized word representations", "arXiv:1802.05365",
              "pretraining"),
    Milestone(date(2018, 6, 11), "GPT",
              "Radford et al., Improving Language Understanding by Generative Pre-Training",
              "OpenAI report, June 2018", "pretraining", family="decoder-only"),
    Milestone(date(2018, 10, 11), "BERT",
              "Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for "
              "Language Understanding", "arXiv:1810.04805", "pretraining",
              family="encoder-only"),
    Milestone(date(2019, 2, 14), "GPT-2",
              "Radford et al., Language Models are Unsupervised Multitask Learners",
              "OpenAI report, February 2019", "scaling", family="decoder-only"),
    Milestone(date(2019, 10, 23), "T5",
              "Raffel et al., Exploring the Limits of Transfer Learning with a Unified "
              "Text-to-Text Transformer", "arXiv:1910.10683", "generalisation",
              family="encoder-decoder"),
    Milestone(date(2020, 1, 23), "Scaling laws",
              "Kaplan et al., Scaling Laws for Neural Language Models", "arXiv:2001.08361",
              "scaling"),
    Milestone(date(2020, 5, 28), "GPT-3",
              "Brown et al., Language Models are Few-Shot Learners", "arXiv:2005.14165",
              "scaling", family="decoder-only"),
    # A reward model and PPO with a KL penalty on a pretrained GPT: InstructGPT's recipe on
    # one task, summaries, a year and a half before InstructGPT.
    Milestone(date(2020, 9, 2), "RLHF summaries",
              "Stiennon et al., Learning to summarize from human feedback", "arXiv:2009.01325",
              "alignment", family="decoder-only"),
    Milestone(date(2021, 6, 17), "LoRA",
              "Hu et al., LoRA: Low-Rank Adaptation of Large Language Models", "arXiv:2106.09685",
              "generalisation"),
    # FLAN instruction-tunes LaMDA-PT, a dense left-to-right decoder-only Transformer.
    Milestone(date(2021, 9, 3), "FLAN",
              "Wei et al., Finetuned Language Models Are Zero-Shot Learners", "arXiv:2109.01652",
              "generalisation", family="decoder-only"),
    Milestone(date(2021, 12, 8), "Gopher",
              "Rae et al., Scaling Language Models: Methods, Analysis & Insights from "
              "Training Gopher", "arXiv:2112.11446", "scaling", family="decoder-only"),
    Milestone(date(2022, 3, 4), "InstructGPT",
              "Ouyang et al., Training language models to follow instructions with human "
              "feedback", "arXiv:2203.02155", "alignment", family="decoder-only"),
    Milestone(date(2022, 3, 29), "Chinchilla",
              "Hoffmann et al., Training Compute-Optimal Large Language Models",
              "arXiv:2203.15556", "scaling", family="decoder-only"),
    Milestone(date(2022, 4, 5), "PaLM",
              "Chowdhery et al., PaLM: Scaling Language Modeling with Pathways",
              "arXiv:2204.02311", "scaling", family="decoder-only"),
    # By the announcement, ChatGPT is fine-tuned from a model in the GPT-3.5 series.
    Milestone(date(2022, 11, 30), "ChatGPT",
              "OpenAI, Introducing ChatGPT", "OpenAI announcement, 30 November 2022",
              "alignment", family="decoder-only"),
]
