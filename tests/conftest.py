"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


# --- shared data (../shared/data beside the repo) -----------------------------------------

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder ``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):  # CI has the data: a missing folder there is a failure
            pytest.fail(f"shared data folder {SHARED_DATA} is absent on CI")
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA
