"""MkDocs hook: link the chapters to the glossary and to the papers page.

What it does, at build time. The chapters' Markdown is not touched: it is executed by the
doc-test harness, and links written there by hand would drift from the glossary and the table.

- The glossary page: every entry (a ``<dt>``) gets an id, the slug of its title before any
  parenthesis: ``BPE (byte-pair encoding)`` -> ``#bpe``, ``KV cache`` -> ``#kv-cache``.
- The papers page: every row of the table gets an id, ``arxiv-1706-03762`` from the arXiv id in
  its Where column, else the first author and the year (``shannon-1948``).
- Each chapter (``chapters/*.md``):
  - the first use of every glossary entry in the prose links to the entry; an abbreviation
    (a word with two capitals: BPE, KV cache, LoRA) also gets the entry's title and the first
    sentence of its definition as a tooltip (``title``);
  - every ``arXiv:NNNN.NNNNN`` of a paper in the table links to the paper's row, with the paper
    as the tooltip. A link the author wrote from the id to arxiv.org is pointed there too, so
    that every id in the book behaves alike; the row gives the date, the venue and the chapters,
    and its own arxiv.org link is one click away;
  - the first citation of every other paper of the table links to its row: "Cho et al. (2014",
    "Hochreiter and Schmidhuber, 1997", "Bengio, Ducharme, Vincent and Jauvin, *Title*,
    Journal, 2003" (the authors are linked); else the work's own name, "PaLM (2022)"; else
    "Narang et al." with no year, where the table has one paper by Narang.

What counts as prose: text outside code and preformatted blocks (the Output blocks), headings,
table headers, existing links, admonition and details titles, tab labels and code-block
titles. Attributes, such as image alt text, are never touched. Italics of four words or more,
or of words that all start with a capital, are skipped too: they are titles and quotations.

How a term is found: the entry's title, split into its spellings (``BPE`` and ``byte-pair
encoding``; ``Few-shot, one-shot and zero-shot`` gives three), the titles of the entries that
only say "See *X*." (``Supervised fine-tuning`` is a spelling of ``SFT``), and the few spellings
in ``EXTRA_FORMS`` below; each also with a plural ``s``/``es``. A spelling with a capital after
its first letter (an acronym or a name: GPT, LoRA, Bradley-Terry model) must match exactly;
any other may also start with the other case (``Attention``, ``attention``). A match needs a
word boundary on both sides, and a hyphen counts as part of a word: ``GPT`` does not match in
``GPT-2`` (a spelling of its own) or ``ChatGPT``, ``attention`` not in ``self-attention``,
``BERT`` not in ``Sentence-BERT``. Where spellings overlap, the longest wins (``multi-head
attention`` is a use of that entry, not of ``attention``), and a use of an entry already linked
on the page stays plain text. A few words mean something else in some chapters ("alignment" of
attention, "rank" of a matrix): ``ONLY_IN`` and ``OTHER_SENSE`` say where they are linked.

The links carry the classes ``glossary-link`` and ``paper-link`` (tests/test_links.py and
tests/site/test_links_built.py check them).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EntitySubstitution
from bs4.formatter import HTMLFormatter
from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.links")

GLOSSARY = "reference/glossary.md"
PAPERS = "reference/papers.md"
CHAPTERS = "chapters/"

# Spellings the titles do not give (singulars of plural titles, other spellings, inflections),
# by entry id.
EXTRA_FORMS = {
    "bfloat16": ["bf16"],
    "bradley-terry-model": ["Bradley-Terry"],
    "context-window": ["context length"],
    "fine-tuning": ["fine-tune", "fine-tuned"],
    "gpt": ["GPT-2", "GPT-3"],
    "kv-cache": ["key-value cache"],
    "layer-normalisation": ["layer normalization", "LayerNorm", "layer norm"],
    "logits": ["logit"],
    "masked-language-modelling": ["masked language modeling", "masked language model"],
    "policy": ["policies"],
    "pretraining": ["pre-training"],
    "reward-hacking": ["reward overoptimization"],
    "rnn": ["recurrent network"],
    "seq2seq": ["sequence-to-sequence"],
    "self-supervised-learning": ["self-supervised"],
    "vocabulary": ["vocabularies"],
    "warmup": ["warm-up"],
}

# Entries whose word often means something else: linked only in the chapters named in ONLY_IN
# (by the beginning of their file names), or in every chapter but those named in OTHER_SENSE.
ONLY_IN = {
    "rank": ["09-"],  # a process of a distributed job; elsewhere a verb, or LoRA's matrix rank
    "value-function": ["11-"],  # reinforcement learning's; elsewhere attention's value heads
}
OTHER_SENSE = {
    "alignment": ["02-", "03-"],  # there, attention's alignment of source and target words
}

# Elements whose text is not prose, and classes of such elements.
SKIP_TAGS = {"a", "code", "pre", "kbd", "samp", "script", "style", "abbr", "th", "summary",
             "label", "h1", "h2", "h3", "h4", "h5", "h6", "svg", "button"}
SKIP_CLASSES = {"admonition-title", "filename", "headerlink", "tabbed-labels"}
TITLE_WORDS = 4  # italics of this many words or more are titles or quotations (is_title)

ARXIV_ID = re.compile(r"(?<![\w.])arXiv:(\d{4}\.\d{4,5})(?!\d)")
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
MONTH = ("(?:January|February|March|April|May|June|July|August|September|October|November"
         "|December)")
# What may stand between a citation's authors and its year: nothing, or a comma or an opening
# parenthesis and then perhaps a day and a month ("OpenAI's ChatML of 2023" is no citation).
BEFORE_YEAR = re.compile(rf"(?:^\s*|[,(]\s*(?:\d{{1,2}}\s+)?(?:{MONTH}\s+)?)$")
NAME = r"[A-Z][\w'’-]+"
WINDOW = 160  # characters after the authors in which their year must be


# --------------------------------------------------------------------------- reading sources


@dataclass
class Term:
    """One glossary entry: its id, its title as written, its spellings, its first sentence."""

    anchor: str
    title: str
    forms: list[str] = field(default_factory=list)
    summary: str = ""


@dataclass(frozen=True)
class Paper:
    """One row of the papers table."""

    anchor: str
    when: str
    year: int
    first_author: str  # as the table gives it: a surname, or "OpenAI"
    name: str  # the row's bold name: "Transformer", "PaLM", "The EU AI Act"
    arxiv: str | None
    label: str  # the tooltip: "Vaswani et al., Attention Is All You Need (June 2017)"


def slug(text: str) -> str:
    """``KV cache`` -> ``kv-cache``; ``BPE (byte-pair encoding)`` -> ``bpe``."""
    return re.sub(r"[^a-z0-9]+", "-", text.split(" (")[0].lower()).strip("-")


def plain(markdown: str) -> str:
    """Markdown of a line or a paragraph as plain text: the marks of links, emphasis, code and
    HTML tags removed (the text of inline code, such as ``<|endoftext|>``, stays)."""
    pieces = re.split(r"(`[^`]*`)", markdown)
    for i, piece in enumerate(pieces):
        if piece.startswith("`"):
            pieces[i] = piece.strip("`")
            continue
        piece = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", piece)
        piece = re.sub(r"<sup>(.*?)</sup>", r"^\1", piece)
        piece = re.sub(r"</?[a-zA-Z][^>]*>", "", piece)
        pieces[i] = re.sub(r"(?<!\w)\*{1,2}(?=\S)|(?<=\S)\*{1,2}(?!\w)", "", piece)
    return re.sub(r"\s+", " ", "".join(pieces)).strip()


def first_sentence(text: str) -> str:
    return re.split(r"(?<!\bal\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s+(?=[A-Z])", text)[0]


def spellings(title: str) -> list[str]:
    """The spellings a title gives: ``BPE (byte-pair encoding)`` -> BPE, byte-pair encoding;
    ``KL divergence (and the KL penalty)`` -> KL divergence, KL penalty; ``Few-shot, one-shot
    and zero-shot`` -> all three."""
    main, _, aside = title.partition(" (")
    forms = re.split(r",\s+|\s+and\s+", main) if ", " in main else [main]
    if aside:
        forms.append(re.sub(r"^(?:and\s+)?(?:the\s+)?", "", aside.rstrip(")")))
    return [form.strip() for form in forms if form.strip()]


def read_glossary(markdown: str) -> list[Term]:
    """The entries of the glossary's definition list, in order. An entry that only says
    "See *X*." gives its spellings to X and keeps none (its <dt> still gets an id)."""
    entries = re.findall(r"^([^\s:#<][^\n]*)\n:[ \t]+(.*(?:\n(?:[ \t]+.*|[ \t]*))*)",
                         markdown, re.MULTILINE)
    terms = []
    for title, body in entries:
        title = plain(title)
        term = Term(anchor=slug(title), title=title, forms=spellings(title),
                    summary=first_sentence(plain(body)))
        term.forms += EXTRA_FORMS.get(term.anchor, [])
        terms.append(term)
    anchors = [t.anchor for t in terms]
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    if duplicates:
        raise PluginError(f"{GLOSSARY}: two entries would have the same id: {duplicates}")
    by_title = {t.title.lower(): t for t in terms}
    for term in terms:
        see = re.fullmatch(r"See (.+?)\.?", term.summary)
        if see and see[1].lower() in by_title:
            target = by_title[see[1].lower()]
            known = {f.lower() for f in target.forms}
            target.forms += [f for f in term.forms if f.lower() not in known]
            term.forms, term.summary = [], target.summary
    return terms


def read_papers(markdown: str) -> list[Paper]:
    """The rows of the papers table (| When | Work | Where | Chapter |), in order."""
    papers = []
    for row in re.findall(r"^\|(.+)\|[ \t]*$", markdown, re.MULTILINE):
        cells = [cell.strip() for cell in row.split("|")]
        if len(cells) != 4 or cells[0] == "When" or set(cells[0]) <= {"-", ":"}:
            continue
        when, work, where, _ = cells
        parts = re.match(r"\*\*(?P<name>.+?)\.?\*\*\s+(?P<authors>.+?),\s+\*(?P<title>.+?)\*",
                         work)
        year = re.search(r"\d{4}", when)
        if not (parts and year):
            raise PluginError(f"{PAPERS}: a row that is not 'When | **Name.** Authors, "
                              f"*Title* | Where | Chapter': {row.strip()!r}")
        first = re.split(r",\s+|\s+and\s+|\s+et al\.", parts["authors"])[0]
        arxiv = ARXIV_ID.search(where)
        papers.append(Paper(
            anchor=f"arxiv-{arxiv[1].replace('.', '-')}" if arxiv else f"{slug(first)}-{year[0]}",
            when=when, year=int(year[0]), first_author=first, name=parts["name"],
            arxiv=arxiv[1] if arxiv else None,
            label=f"{parts['authors']}, {plain(parts['title'])} ({when})"))
    anchors = [p.anchor for p in papers]
    duplicates = sorted({a for a in anchors if anchors.count(a) > 1})
    if duplicates:
        raise PluginError(f"{PAPERS}: two rows would have the same id: {duplicates}")
    return papers


# --------------------------------------------------------------------------- prose


def is_prose(node: NavigableString) -> bool:
    if type(node) is not NavigableString:  # comments, CDATA, doctype
        return False
    for parent in node.parents:
        if parent.name in SKIP_TAGS or SKIP_CLASSES.intersection(parent.get("class") or ()):
            return False
        if parent.name == "em" and is_title(parent.get_text()):
            return False
    return True


def is_title(italics: str) -> bool:
    """A title or a quotation: four words or more, or two or more that all start with a
    capital (short words aside): *Introducing ChatGPT*, *Learning to Forget*."""
    words = italics.split()
    return len(words) >= TITLE_WORDS or (
        len(words) >= 2 and all(w[0].isupper() for w in words if len(w) > 3))


def prose_strings(soup: BeautifulSoup) -> list[NavigableString]:
    """The page's prose text nodes, in document order."""
    return [node for node in soup.find_all(string=True) if is_prose(node)]


def is_abbreviation(text: str) -> bool:
    """BPE, KV cache, LoRA, UTF-8, ChatGPT: a word with two capitals."""
    return any(sum(c.isupper() for c in word) >= 2 for word in re.findall(r"\w+", text))


def wrap(soup: BeautifulSoup, node: NavigableString, links: list[tuple]) -> int:
    """Replace ``node`` by its text with the spans ``(start, end, href, title, class)`` made
    links (in order, not overlapping). Returns their number."""
    pieces, last = [], 0
    for start, end, href, title, kind in links:
        attrs = {"href": href, "class": kind} | ({"title": title} if title else {})
        link = soup.new_tag("a", attrs=attrs)
        link.string = node[start:end]
        pieces += [NavigableString(node[last:start]), link]
        last = end
    if links:
        node.replace_with(*[p for p in pieces + [NavigableString(node[last:])] if p != ""])
    return len(links)


# --------------------------------------------------------------------------- glossary terms


def term_pattern(terms: list[Term]) -> tuple[re.Pattern, dict[str, Term]]:
    """One regex for every spelling (longest first), and the entry of each of its groups."""
    owner = {form: term for term in terms for form in term.forms}

    def regex(form: str) -> str:
        body = re.escape(form)
        if form[0].isalpha() and not any(c.isupper() for c in form[1:]):
            body = f"[{form[0].upper()}{form[0].lower()}]{re.escape(form[1:])}"
        return body + ("(?:e?s)?" if form[-1].isalpha() else "")

    forms = sorted(owner, key=len, reverse=True)
    alternatives = "|".join(f"(?P<f{i}>{regex(form)})" for i, form in enumerate(forms))
    pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-]|\.\d)")
    return pattern, {f"f{i}": owner[form] for i, form in enumerate(forms)}


def link_terms(soup: BeautifulSoup, terms: list[Term], glossary_url: str,
               src_uri: str = "") -> int:
    """Link the first use of every glossary entry in the page's prose. Returns the count."""
    pattern, owner = term_pattern([t for t in terms if t.forms])
    chapter = src_uri.removeprefix(CHAPTERS)
    done = {anchor for anchor, prefixes in OTHER_SENSE.items()  # as if linked already
            if chapter.startswith(tuple(prefixes))}
    done |= {anchor for anchor, prefixes in ONLY_IN.items()
             if not chapter.startswith(tuple(prefixes))}
    count = 0
    for node in prose_strings(soup):
        links = []
        for match in pattern.finditer(node):
            term = owner[match.lastgroup]
            if term.anchor not in done:
                done.add(term.anchor)
                title = f"{term.title}: {term.summary}" if is_abbreviation(match[0]) else None
                links.append((*match.span(), f"{glossary_url}#{term.anchor}", title,
                              "glossary-link"))
        count += wrap(soup, node, links)
    return count


# --------------------------------------------------------------------------- papers


def text_after(node: NavigableString, start: int, length: int = WINDOW) -> str:
    """The page's text from ``node[start:]`` on, ``length`` characters of it."""
    text = str(node[start:])
    for following in node.next_elements:
        if len(text) >= length:
            break
        if isinstance(following, NavigableString):
            text += following
    return text[:length]


@functools.cache
def citation_patterns(papers: tuple[Paper, ...]) -> dict[str, tuple[re.Pattern, dict]]:
    """For ``citations``, by kind: a regex, and the papers that each match can mean."""
    by_author_year: dict[tuple[str, int], list[Paper]] = {}
    by_author: dict[str, list[Paper]] = {}
    for paper in papers:
        by_author_year.setdefault((paper.first_author, paper.year), []).append(paper)
        by_author.setdefault(paper.first_author, []).append(paper)
    by_name = {re.sub(r"^The ", "", p.name): p for p in papers
               if " " not in p.name or is_abbreviation(p.name)}
    surnames = "|".join(sorted({re.escape(p.first_author) for p in papers}, key=len)[::-1])
    names = "|".join(sorted(map(re.escape, by_name), key=len, reverse=True))
    rest = rf"(?: et al\.|(?:,\s+{NAME})*,?\s+and\s+{NAME}|(?:,\s+{NAME})*)"
    return {
        "authors": (re.compile(rf"\b(?P<first>{surnames}){rest}"
                               rf"(?=,|['’]s\b|\s+\(|\s+(?:\d|{MONTH}))"), by_author_year),
        "name": (re.compile(rf"(?<![\w-])(?:{names})(?=\s+\()"), by_name),
        "et al.": (re.compile(rf"\b(?P<first>{surnames}) et al\."), by_author),
    }


def citations(node: NavigableString, papers: list[Paper],
              by: str) -> Iterator[tuple[int, int, Paper]]:
    """The citations in a text node of papers of the table, without arXiv ids: the span to
    link and the paper.

    - ``by="authors"``: authors, the first of a list (not after "X, " or "and "), whose year
      comes next, or after a comma or a parenthesis, within ``WINDOW`` characters.
    - ``by="name"``: the work's bold name in the table, then a parenthesis holding its year:
      "PaLM (2022)".
    - ``by="et al."``: "Narang et al." with no year, when the table has one paper by them.
    """
    pattern, meaning = citation_patterns(tuple(papers))[by]
    for match in pattern.finditer(node):
        if by == "name":
            paper = meaning[match[0]]
            year = YEAR.search(text_after(node, match.end(), 60))
            found = [paper] if year and int(year[0]) == paper.year else []
        elif re.search(rf"(?:{NAME},|\band)\s+$", node[:match.start()]):
            continue  # a later author of a list
        elif by == "et al.":
            found = meaning.get(match["first"], [])
        else:
            after = text_after(node, match.end())
            year = YEAR.search(after)
            found = (meaning.get((match["first"], int(year[0])), [])
                     if year and BEFORE_YEAR.search(after[:year.start()]) else [])
        if len(found) == 1:
            yield *match.span(), found[0]


def link_papers(soup: BeautifulSoup, papers: list[Paper], papers_url: str) -> int:
    """Link every arXiv id of a paper in the table, and the first citation of each other paper
    of the table (see ``citations``). Returns the count."""
    by_arxiv = {p.arxiv: p for p in papers if p.arxiv}
    count = 0
    for a in soup.find_all("a", href=re.compile(r"^https?://arxiv\.org/abs/")):
        match = ARXIV_ID.fullmatch(a.get_text().strip())
        if match and match[1] in by_arxiv and a["href"].rstrip("/").endswith(match[1]):
            paper = by_arxiv[match[1]]
            a["href"], a["title"] = f"{papers_url}#{paper.anchor}", paper.label
            a["class"] = (a.get("class") or []) + ["paper-link"]
            count += 1
    for node in prose_strings(soup):
        count += wrap(soup, node, [
            (*match.span(), f"{papers_url}#{paper.anchor}", paper.label, "paper-link")
            for match in ARXIV_ID.finditer(node) if (paper := by_arxiv.get(match[1]))])

    done = {a["href"].rpartition("#")[2] for a in soup.find_all("a", class_="paper-link")}
    for by in ("authors", "name", "et al."):  # "GPT (Radford et al., 2018": the authors
        for node in prose_strings(soup):
            links = []
            for start, end, paper in citations(node, papers, by):
                if paper.anchor not in done:
                    done.add(paper.anchor)
                    links.append((start, end, f"{papers_url}#{paper.anchor}", paper.label,
                                  "paper-link"))
            count += wrap(soup, node, links)
    return count


# --------------------------------------------------------------------------- ids


def add_ids(soup: BeautifulSoup, elements: list[Tag], anchors: list[str], page: str) -> set:
    """Give each element its anchor; the page must not use one of them already."""
    clash = sorted({tag["id"] for tag in soup.find_all(id=True)}.intersection(anchors))
    if clash:
        raise PluginError(f"{page}: ids already on the page: {clash}")
    for element, anchor in zip(elements, anchors, strict=True):
        element["id"] = anchor
    return set(anchors)


def glossary_ids(soup: BeautifulSoup, terms: list[Term]) -> set[str]:
    dts = soup.find_all("dt")
    anchors = [slug(dt.get_text(" ", strip=True)) for dt in dts]
    if anchors != [t.anchor for t in terms]:
        raise PluginError(f"{GLOSSARY}: the page's terms {anchors} are not the entries read "
                          f"from its Markdown {[t.anchor for t in terms]}")
    return add_ids(soup, dts, anchors, GLOSSARY)


def paper_ids(soup: BeautifulSoup, papers: list[Paper]) -> set[str]:
    rows = [tr for table in soup.find_all("table")
            if [th.get_text(strip=True) for th in table.find_all("th")][:1] == ["When"]
            for tr in table.tbody.find_all("tr")]
    if [tr.td.get_text(" ", strip=True) for tr in rows] != [p.when for p in papers]:
        raise PluginError(f"{PAPERS}: the page's {len(rows)} rows are not the {len(papers)} "
                          "rows read from its Markdown")
    return add_ids(soup, rows, [p.anchor for p in papers], PAPERS)


# --------------------------------------------------------------------------- MkDocs events


class _AsWritten(HTMLFormatter):
    """BeautifulSoup's "minimal" output with the attributes in their order (it sorts them)."""

    def attributes(self, tag: Tag):
        return list(tag.attrs.items())


OUTPUT = _AsWritten(entity_substitution=EntitySubstitution.substitute_xml)

_sources: dict[str, list] = {"terms": [], "papers": []}


def on_files(files, config):
    """Read the glossary's entries and the table's rows from their Markdown, before any page
    is rendered (the chapters come before the reference pages)."""
    glossary, papers = files.get_file_from_path(GLOSSARY), files.get_file_from_path(PAPERS)
    _sources["terms"] = read_glossary(glossary.content_string) if glossary else []
    _sources["papers"] = read_papers(papers.content_string) if papers else []
    return files


def on_page_content(html: str, page, config, files) -> str:
    src_uri = page.file.src_uri
    is_chapter = src_uri.startswith(CHAPTERS) and src_uri.endswith(".md")
    if not (is_chapter or src_uri in {GLOSSARY, PAPERS}):
        return html
    soup = BeautifulSoup(html, "html.parser")
    if src_uri == GLOSSARY:  # the new ids, for MkDocs' check of links to anchors
        page.present_anchor_ids = (page.present_anchor_ids or set()) | glossary_ids(
            soup, _sources["terms"])
    elif src_uri == PAPERS:
        page.present_anchor_ids = (page.present_anchor_ids or set()) | paper_ids(
            soup, _sources["papers"])
    else:
        glossary, papers = files.get_file_from_path(GLOSSARY), files.get_file_from_path(PAPERS)
        n_papers = (link_papers(soup, _sources["papers"], papers.url_relative_to(page.file))
                    if papers else 0)
        n_terms = (link_terms(soup, _sources["terms"], glossary.url_relative_to(page.file),
                              src_uri) if glossary else 0)
        log.debug(f"{src_uri}: {n_terms} glossary links, {n_papers} paper links")
    return soup.decode(formatter=OUTPUT)
