"""Fixtures of the reliability runs: the world templates (built once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.scale import scaled
from tests.reliability.slack_ledger import LedgerSlackStandin
from tests.reliability.world import Templates, build_templates
from tests.standins.openai_standin import OpenAIStandin

# A realistic routing batch: the default route_batch_size is 200.
BATCH_ENTRIES = scaled(80, 200)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    directory: Path = tmp_path_factory.mktemp("reliability-templates")
    with OpenAIStandin() as openai, LedgerSlackStandin() as slack:
        built = build_templates(directory, BATCH_ENTRIES, openai, slack)
    yield built
