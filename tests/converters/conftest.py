"""Fixtures for the converter tests."""

from __future__ import annotations

import copy

import pytest
from _conv_helpers import SPEC_EXAMPLE


@pytest.fixture
def spec_doc() -> dict:
    return copy.deepcopy(SPEC_EXAMPLE)
