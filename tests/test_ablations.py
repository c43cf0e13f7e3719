"""Chapter 12's ablations and its list of innovations."""

from __future__ import annotations

import re

import pytest
import torch

from llm_evolution import zoo
from llm_evolution.innovations import FATES, INNOVATIONS, Innovation
from llm_evolution.recipes.chapter12 import ABLATION, SEEDS, VARIANTS, ablation_name
from tests import docs_harness


def test_the_baseline_is_chapter_8s_sweep_model_weight_for_weight():
    """With every switch off, the seed-0 run trains exactly as chapter 8's sweep-2x32-800 (the
    same GPT, data, schedule and seed): the ablations' baseline is the book's GPT, not a copy
    of it that could drift."""
    ours = zoo.get(ablation_name("gpt-2", 0)).model.state_dict()
    theirs = zoo.get("sweep-2x32-800").model.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)


def test_every_variant_shares_data_budget_and_seeds():
    configs = [zoo.find(ablation_name(v, s)).config for v in VARIANTS for s in SEEDS]
    for config in configs:
        rest = {k: v for k, v in config.items() if k not in ("name", "switches")}
        assert rest == ABLATION
    assert {zoo.find(ablation_name(v, s)).seed for v in VARIANTS for s in SEEDS} == set(SEEDS)


def test_every_cited_arxiv_id_is_on_the_papers_page():
    papers = (docs_harness.REPO_ROOT / "docs" / "reference" / "papers.md").read_text()
    cited = {match for item in INNOVATIONS
             for match in re.findall(r"arXiv:(\d{4}\.\d{4,5})", item.introduced_by + item.evidence)}
    missing = sorted(i for i in cited if f"arXiv:{i}" not in papers)
    assert not missing, f"cited in innovations.py but not on the papers page: {missing}"


def test_every_fate_names_its_evidence():
    assert all(item.fate in FATES and item.evidence for item in INNOVATIONS)
    assert "UNVERIFIED" not in " ".join(item.evidence for item in INNOVATIONS)


@pytest.mark.parametrize("change, message", [
    ({"fate": "died"}, "fate='died' must be one of"),
    ({"fate": "replaced"}, "names its successor"),
    ({"fate": "lives", "successor": "X", "successor_year": 2020}, "names its successor"),
    ({"fate": "replaced", "successor": "X", "successor_year": 2010}, "ends in 2010, before"),
    ({"fate": "dropped"}, "names the year it was dropped"),
    ({"fate": "lives", "ended_year": 2020}, "names the year it was dropped"),
])
def test_a_bad_innovation_says_what_is_wrong(change, message):
    fields = {"name": "BPE", "year": 2015, "introduced_by": "Sennrich et al.", "fate": "lives",
              "evidence": "Llama", **change}
    with pytest.raises(ValueError, match=message):
        Innovation(**fields)
