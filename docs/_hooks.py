"""MkDocs build hook: strip the words after the language in a code fence's info string.

The docs mark blocks for tests/test_docs.py with info strings such as ``bash runnable`` or
``toml file=pyproject.toml``. GitHub reads only the first word; Python-Markdown's fenced_code
does not accept the rest, so the hook keeps the first word for the build.
"""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"^(?P<fence>```+|~~~+)[ \t]*(?P<lang>[\w+.#-]+)[ \t]+[^\n`]*$", re.MULTILINE)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return _FENCE.sub(lambda m: m.group("fence") + m.group("lang"), markdown)
