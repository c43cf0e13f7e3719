"""The named training recipes behind the site's trained models (see :mod:`llm_evolution.zoo`).

One module per chapter, so that editing one chapter's recipes does not retrain another's
models (a recipe's cache key includes the source of the module that defines it). Importing
this package registers them all.
"""

from llm_evolution.recipes import chapter01  # noqa: F401
from llm_evolution.recipes import chapter02  # noqa: F401
from llm_evolution.recipes import chapter03  # noqa: F401
from llm_evolution.recipes import chapter06  # noqa: F401
from llm_evolution.recipes import chapter05  # noqa: F401
from llm_evolution.recipes import chapter07  # noqa: F401
from llm_evolution.recipes import chapter08  # noqa: F401
from llm_evolution.recipes import chapter10  # noqa: F401
from llm_evolution.recipes import chapter11  # noqa: F401
from llm_evolution.recipes import chapter12  # noqa: F401
