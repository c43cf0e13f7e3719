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


@event_priority(100)  # before mkdocs-jupyter, which must see the notebooks among the files
def on_files(files: Files, config) -> Files:
    for file_name, path in figures.build_all().items():
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
        light = f"{prefix}figures/{figures.output_name(name, 'light')}"
        dark = f"{prefix}figures/{figures.output_name(name, 'dark')}"
        return (f"{match['indent']}![{alt}]({light}#only-light){{ loading=lazy }}"
                f"![{alt}]({dark}#only-dark){{ loading=lazy }}")

    return FIGURE_IMAGE.sub(both_themes, markdown)


@event_priority(100)  # before the search plugin reads the page
def on_page_context(context, page, config, nav):
    """Keep the notebooks out of the search index: each repeats its chapter's code and output,
    and in the results they came before the chapters themselves."""
    if page.file.src_uri.endswith(".ipynb"):
        page.meta.setdefault("search", {})["exclude"] = True
    return context
