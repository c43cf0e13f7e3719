"""MkDocs hook: add the generated figures and notebooks to the build.

Nothing is written into ``docs/``: figures are rendered into the cache by
:mod:`llm_evolution.figures` and notebooks converted by :mod:`llm_evolution.notebooks`, then
added to the site's files here, so ``mkdocs serve`` does not rebuild in a loop.

In a page, ``![](../figures/NAME.svg)`` on a line of its own (empty alt; indented inside a
content tab) becomes the light and the dark rendering of figure NAME, with the alt text it was
registered with.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from llm_evolution import numerics

# Figures draw from trained models, and notebook kernels (started by mkdocs-jupyter) inherit
# this process's environment: both compute on the reference numeric path, like the tests.
numerics.use_reference_path()

from llm_evolution import figures, notebooks  # noqa: E402

# A figure stands on a line of its own, perhaps indented (inside a content tab: the steps of a
# process); the same text inside prose or code is left alone.
FIGURE_IMAGE = re.compile(
    r"^(?P<indent>[ \t]*)!\[\]\((?P<prefix>(?:\.\./)*)figures/(?P<name>[\w-]+)\.svg\)[ \t]*$",
    re.MULTILINE,
)


# The rendered SVG of each figure file name, from on_files: its size goes into the page.
RENDERED: dict = {}
SVG_SIZE = re.compile(r'<svg[^>]*\bwidth="(?P<width>[\d.]+)pt" height="(?P<height>[\d.]+)pt"')


def css_pixels(file_name: str) -> tuple[int, int] | None:
    """The figure's size in CSS pixels (matplotlib writes points: 1 pt = 4/3 px), so that the
    browser reserves its box before the image loads and the text below does not jump."""
    path = RENDERED.get(file_name)
    match = SVG_SIZE.search(path.read_text(encoding="utf-8")[:2000]) if path else None
    if match is None:
        return None
    return round(float(match["width"]) * 4 / 3), round(float(match["height"]) * 4 / 3)


@event_priority(100)  # before mkdocs-jupyter, which must see the notebooks among the files
def on_files(files: Files, config) -> Files:
    RENDERED.clear()
    for file_name, path in figures.build_all().items():
        RENDERED[file_name] = path
        files.append(File.generated(config, f"figures/{file_name}", abs_src_path=str(path)))
    for path in notebooks.build_all().values():
        # A plain File (not File.generated): mkdocs-jupyter needs a real source folder.
        files.append(File(f"notebooks/{path.name}", src_dir=str(path.parent.parent),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    specs = figures.registry()

    def both_themes(match: re.Match) -> str:
        name, prefix = match["name"], match["prefix"]
        if name not in specs:
            raise PluginError(f"{page.file.src_uri}: no figure named {name!r} in "
                              f"llm_evolution.figures (known: {sorted(specs)})")
        alt = specs[name].alt.replace("[", "(").replace("]", ")")
        light_name, dark_name = (figures.output_name(name, theme) for theme in ("light", "dark"))
        size = css_pixels(light_name)
        attributes = "loading=lazy" + (f" width={size[0]} height={size[1]}" if size else "")
        return (f"{match['indent']}![{alt}]({prefix}figures/{light_name}#only-light)"
                f"{{ {attributes} }}"
                f"![{alt}]({prefix}figures/{dark_name}#only-dark){{ {attributes} }}")

    return FIGURE_IMAGE.sub(both_themes, markdown)


@event_priority(100)  # before the search plugin reads the page
def on_page_context(context, page, config, nav):
    """Keep the notebooks out of the search index: each repeats its chapter's code and output,
    and in the results they came before the chapters themselves."""
    if page.file.src_uri.endswith(".ipynb"):
        page.meta.setdefault("search", {})["exclude"] = True
    return context
