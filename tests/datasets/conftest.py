"""Shared fixture for tests that read the real datasets through RECRL_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder named by RECRL_DATA_DIR.

    Skips the test (with the reason) when the variable is unset or the folder is
    missing, so contributors without the data can run the rest of the suite; with
    CI=true the same situation is a failure, because CI must test the real data.
    """
    value = os.environ.get("RECRL_DATA_DIR", "")
    folder = Path(value) if value else None
    if folder is not None and folder.is_dir():
        return folder
    reason = ("RECRL_DATA_DIR is not set" if folder is None
              else f"RECRL_DATA_DIR={value} is not a folder")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the data tests")
    pytest.skip(f"{reason}; set it to the folder holding the datasets")
