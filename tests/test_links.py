"""The MkDocs hook that links chapters to the glossary and the papers page (docs/hooks/links.py),
on small snippets of Markdown and HTML, and on the real glossary and papers table."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from bs4 import BeautifulSoup
from mkdocs.exceptions import PluginError

from tests.docs_harness import REPO_ROOT

GLOSSARY_MD = """\
# Glossary

## A

Attention
:   A way for each position to gather information from other positions. More text.

BPE (byte-pair encoding)
:   A way to build a vocabulary of word pieces. Start from single characters, then merge
    (Gage, 1994).

GPT
:   *Generative Pre-trained Transformer*, OpenAI's family of decoder-only models.

KV cache
:   A speed-up for generation. It keeps keys and values.

Multi-head attention
:   Several attention operations side by side.

Rank
:   One process of a distributed training job.

SFT (supervised fine-tuning)
:   Fine-tuning on examples of the behaviour wanted.

Supervised fine-tuning
:   See *SFT (supervised fine-tuning)*.
"""

PAPERS_MD = """\
| When | Work | Where | Chapter |
|---|---|---|---|
| 1994 | **Byte-pair encoding (BPE) for compression.** Gage, *A New Algorithm for Data Compression* | The C Users Journal 12(2) | 4 |
| June 2014 | **GRU.** Cho et al., *Learning Phrase Representations* | [arXiv:1406.1078](https://arxiv.org/abs/1406.1078) | 2 |
| September 2014 | **Additive attention.** Bahdanau, Cho and Bengio, *Neural Machine Translation by Jointly Learning to Align and Translate* | [arXiv:1409.0473](https://arxiv.org/abs/1409.0473) | 2 |
| June 2017 | **Transformer.** Vaswani et al., *Attention Is All You Need* | [arXiv:1706.03762](https://arxiv.org/abs/1706.03762) | 3 |
| April 2022 | **PaLM.** Chowdhery et al., *PaLM: Scaling Language Modeling with Pathways* | [arXiv:2204.02311](https://arxiv.org/abs/2204.02311) | 8 |
| March 2023 | **A report.** OpenAI, *GPT-4 Technical Report* | [arXiv:2303.08774](https://arxiv.org/abs/2303.08774) | 8 |
"""

GLOSSARY_URL, PAPERS_URL = "../../reference/glossary/", "../../reference/papers/"


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location(
        "links", REPO_ROOT / "docs" / "hooks" / "links.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["links"] = module  # as MkDocs loads a hook (dataclasses need it)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def terms(hook):
    return hook.read_glossary(GLOSSARY_MD)


@pytest.fixture(scope="module")
def papers(hook):
    return hook.read_papers(PAPERS_MD)


def with_terms(hook, terms, html: str, src_uri: str = "chapters/03-x.md") -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    hook.link_terms(soup, terms, GLOSSARY_URL, src_uri)
    return soup


def with_papers(hook, papers, html: str) -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    hook.link_papers(soup, papers, PAPERS_URL)
    return soup


def glossary_links(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(a.get_text(), a["href"].rpartition("#")[2])
            for a in soup.find_all("a", class_="glossary-link")]


def paper_links(soup: BeautifulSoup) -> list[tuple[str, str]]:
    return [(a.get_text(), a["href"].rpartition("#")[2])
            for a in soup.find_all("a", class_="paper-link")]


# --------------------------------------------------------------------------- reading sources


def test_glossary_entries_ids_spellings_and_first_sentences(terms):
    by_id = {t.anchor: t for t in terms}
    assert list(by_id) == ["attention", "bpe", "gpt", "kv-cache", "multi-head-attention",
                           "rank", "sft", "supervised-fine-tuning"]
    assert by_id["bpe"].forms == ["BPE", "byte-pair encoding"]
    assert by_id["attention"].summary == (
        "A way for each position to gather information from other positions.")
    assert by_id["gpt"].summary.startswith("Generative Pre-trained Transformer, OpenAI's")
    # "See X." entries lend their spellings to X and link nowhere themselves.
    assert by_id["sft"].forms == ["SFT", "supervised fine-tuning"]
    assert by_id["supervised-fine-tuning"].forms == []


def test_spellings_of_titles(hook):
    assert hook.spellings("KL divergence (and the KL penalty)") == ["KL divergence", "KL penalty"]
    assert hook.spellings("Few-shot, one-shot and zero-shot") == [
        "Few-shot", "one-shot", "zero-shot"]
    assert hook.slug("Value function (value head)") == "value-function"


def test_papers_rows_anchors_and_labels(papers):
    assert [p.anchor for p in papers] == [
        "gage-1994", "arxiv-1406-1078", "arxiv-1409-0473", "arxiv-1706-03762",
        "arxiv-2204-02311", "arxiv-2303-08774"]
    transformer = papers[3]
    assert (transformer.first_author, transformer.year, transformer.name) == (
        "Vaswani", 2017, "Transformer")
    assert transformer.label == "Vaswani et al., Attention Is All You Need (June 2017)"


def test_a_row_out_of_format_fails_the_build(hook):
    with pytest.raises(PluginError, match="a row that is not"):
        hook.read_papers("| 2020 | Someone, a title | Somewhere | 1 |\n")


def test_the_real_glossary_and_papers_table_are_read_whole(hook):
    glossary = (REPO_ROOT / "docs" / "reference" / "glossary.md").read_text()
    terms = hook.read_glossary(glossary)
    assert len(terms) == glossary.count("\n:   ")
    anchors = {t.anchor for t in terms}
    assert {"bpe", "kv-cache", "rlhf", "lora", "transformer"} <= anchors
    # The hook's tables name entries that exist; an entry without spellings is a "See X." one,
    # whose title is a spelling of X.
    assert set(hook.EXTRA_FORMS) | set(hook.ONLY_IN) | set(hook.OTHER_SENSE) <= anchors
    spelled = {form.lower() for t in terms for form in t.forms}
    assert all(t.title.lower() in spelled for t in terms if not t.forms)
    papers_md = (REPO_ROOT / "docs" / "reference" / "papers.md").read_text()
    papers = hook.read_papers(papers_md)
    rows = [line for line in papers_md.splitlines() if line.startswith("| ")]
    assert len(papers) == len(rows) - 1  # the header row
    assert len({p.anchor for p in papers}) == len(papers)


# --------------------------------------------------------------------------- glossary terms


def test_only_the_first_use_is_linked(hook, terms):
    soup = with_terms(hook, terms, "<p>Attention here.</p><p>And attention there.</p>")
    assert glossary_links(soup) == [("Attention", "attention")]
    assert soup.find_all("a")[0]["href"] == GLOSSARY_URL + "#attention"
    assert soup.get_text() == "Attention here.And attention there."


def test_no_link_in_code_headings_links_titles_or_attributes(hook, terms):
    html = ('<h2 id="attention">Attention</h2>'
            '<div class="admonition note"><p class="admonition-title">Attention</p></div>'
            '<p><code>attention</code> <a href="x.md">attention</a> '
            '<img alt="attention map" src="a.svg"></p>'
            '<div class="highlight"><span class="filename">Output</span>'
            '<pre><code>attention 0.5</code></pre></div>'
            '<p><em>Attention Is All You Need</em>, <em>Introducing Attention</em></p>'
            '<p>Finally, attention.</p>')
    soup = with_terms(hook, terms, html)
    assert glossary_links(soup) == [("attention", "attention")]
    assert soup.find_all("p")[-1].a is not None
    assert soup.img["alt"] == "attention map"


def test_word_boundaries_and_hyphens(hook, terms):
    soup = with_terms(hook, terms, "<p>ChatGPT and GPT-4 and GPTs; self-attention.</p>")
    # GPTs is GPT's plural; GPT-4 and ChatGPT are other words (GPT-2 and GPT-3 are spellings
    # of GPT, in EXTRA_FORMS), as is self-attention.
    assert glossary_links(soup) == [("GPTs", "gpt")]
    soup = with_terms(hook, terms, "<p>GPT-3.5 and then GPT-3.</p>")
    assert glossary_links(soup) == [("GPT-3", "gpt")]
    assert soup.a.next_sibling == "."


def test_longest_spelling_wins_and_counts_as_its_own_entry(hook, terms):
    soup = with_terms(hook, terms,
                      "<p>Multi-head attention runs attention several times.</p>")
    assert glossary_links(soup) == [("Multi-head attention", "multi-head-attention"),
                                    ("attention", "attention")]


def test_case_matters_for_acronyms_only(hook, terms):
    soup = with_terms(hook, terms, "<p>The bpe tool, Byte-pair encoding, then BPE.</p>")
    assert glossary_links(soup) == [("Byte-pair encoding", "bpe")]


def test_abbreviations_get_their_definition_as_a_tooltip(hook, terms):
    soup = with_terms(hook, terms,
                      "<p>A KV cache, supervised fine-tuning and attention.</p>")
    links = {a.get_text(): a.get("title") for a in soup.find_all("a")}
    assert links["KV cache"] == "KV cache: A speed-up for generation."
    assert links["supervised fine-tuning"] is None  # spelled out: no tooltip
    assert links["attention"] is None


def test_a_word_of_another_sense_is_linked_only_where_it_has_the_entry_s(hook, terms):
    html = "<p>Each rank holds a copy.</p>"
    assert glossary_links(with_terms(hook, terms, html, "chapters/09-x.md")) == [
        ("rank", "rank")]
    assert glossary_links(with_terms(hook, terms, html, "chapters/10-x.md")) == []


def test_links_inside_emphasis_and_tables(hook, terms):
    soup = with_terms(hook, terms, "<p><strong>BPE</strong></p><td>a KV cache</td>")
    assert glossary_links(soup) == [("BPE", "bpe"), ("KV cache", "kv-cache")]


# --------------------------------------------------------------------------- papers


def test_every_arxiv_id_links_to_its_row(hook, papers):
    soup = with_papers(hook, papers, "<p>(2017, arXiv:1706.03762) and arXiv:1706.03762; "
                                     "arXiv:9999.99999 is not in the table.</p>")
    assert paper_links(soup) == [("arXiv:1706.03762", "arxiv-1706-03762")] * 2
    assert soup.a["title"] == "Vaswani et al., Attention Is All You Need (June 2017)"
    assert soup.a["href"] == PAPERS_URL + "#arxiv-1706-03762"


def test_a_link_to_arxiv_org_is_pointed_at_the_papers_page(hook, papers):
    soup = with_papers(hook, papers, '<p><a href="https://arxiv.org/abs/1409.0473">'
                                     'arXiv:1409.0473</a></p>')
    assert soup.a["href"] == PAPERS_URL + "#arxiv-1409-0473"
    assert soup.a.get_text() == "arXiv:1409.0473"


def test_author_year_citations_link_the_first_citation_of_a_paper(hook, papers):
    soup = with_papers(hook, papers, "<p>Cho et al. (June 2014) proposed it; Cho et al. "
                                     "(2014) again. Compression (Gage, <em>A New Algorithm "
                                     "for Data Compression</em>, 1994).</p>")
    assert paper_links(soup) == [("Cho et al.", "arxiv-1406-1078"), ("Gage", "gage-1994")]


def test_a_paper_whose_arxiv_id_is_cited_is_linked_by_its_id_only(hook, papers):
    soup = with_papers(hook, papers, "<p>Cho et al. (2014, arXiv:1406.1078).</p>")
    assert paper_links(soup) == [("arXiv:1406.1078", "arxiv-1406-1078")]


def test_no_citation_from_a_later_author_or_a_year_that_is_not_the_citation_s(hook, papers):
    soup = with_papers(hook, papers, "<p>Bahdanau, Cho and Bengio (2014) attended. "
                                     "OpenAI's ChatML of 2023 marks turns.</p>")
    assert paper_links(soup) == [("Bahdanau, Cho and Bengio", "arxiv-1409-0473")]


def test_a_work_named_with_its_year_links_unless_its_authors_do(hook, papers):
    soup = with_papers(hook, papers, "<p>PaLM (2022) is large.</p>")
    assert paper_links(soup) == [("PaLM", "arxiv-2204-02311")]
    soup = with_papers(hook, papers, "<p>PaLM (Chowdhery et al., 2022) is large.</p>")
    assert paper_links(soup) == [("Chowdhery et al.", "arxiv-2204-02311")]


def test_authors_without_a_year_link_a_paper_not_linked_otherwise(hook, papers):
    soup = with_papers(hook, papers, "<p>Chowdhery et al. trained it. PaLM (2022) is large."
                                     "</p><p>Chowdhery et al. again.</p>")
    assert paper_links(soup) == [("PaLM", "arxiv-2204-02311")]  # the name and year first
    soup = with_papers(hook, papers, "<p>Chowdhery et al. trained it.</p>")
    assert paper_links(soup) == [("Chowdhery et al.", "arxiv-2204-02311")]


# --------------------------------------------------------------------------- ids


def test_glossary_terms_and_papers_rows_get_ids(hook, terms, papers):
    dl = "".join(f"<dt>{t.title}</dt><dd>{t.summary}</dd>" for t in terms)
    soup = BeautifulSoup(f'<h2 id="a">A</h2><dl>{dl}</dl>', "html.parser")
    assert hook.glossary_ids(soup, terms) == {t.anchor for t in terms}
    assert soup.find("dt")["id"] == "attention"

    rows = "".join(f"<tr><td>{p.when}</td><td>w</td><td>x</td><td>1</td></tr>" for p in papers)
    soup = BeautifulSoup("<table><thead><tr><th>When</th><th>Work</th></tr></thead>"
                         f"<tbody>{rows}</tbody></table>", "html.parser")
    hook.paper_ids(soup, papers)
    assert [tr.get("id") for tr in soup.tbody.find_all("tr")] == [p.anchor for p in papers]


def test_an_id_already_on_the_page_fails_the_build(hook, terms):
    dl = "".join(f"<dt>{t.title}</dt>" for t in terms)
    soup = BeautifulSoup(f'<h2 id="rank">Rank</h2><dl>{dl}</dl>', "html.parser")
    with pytest.raises(PluginError, match="ids already on the page"):
        hook.glossary_ids(soup, terms)
