from __future__ import annotations

import pytest

from referkit.config import Settings
from tests.skan.keys import PUBLIC_B64


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, trusting the local test key besides Apple's."""
    return settings.model_copy(update={"skan_extra_public_keys": PUBLIC_B64})
