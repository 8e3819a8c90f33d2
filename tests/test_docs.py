"""The operator page lists every environment variable the code reads (config.py is the only
reader), so the docs cannot fall behind a new setting."""

from __future__ import annotations

import re
from pathlib import Path

import gtm_feedback_dagster

ROOT = Path(gtm_feedback_dagster.__file__).parent


def test_operations_page_lists_every_variable() -> None:
    config = (ROOT / "config.py").read_text()
    names = set(re.findall(r'"((?:GTM_FEEDBACK|SLACK|OPENAI|UPSTASH)_[A-Z_]+)"', config))
    assert len(names) > 20
    page = (ROOT.parent / "docs" / "operations.md").read_text()
    missing = sorted(name for name in names if f"`{name}`" not in page)
    assert missing == [], f"add to the table in docs/operations.md: {missing}"
