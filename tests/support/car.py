"""Whether the car task can run here: ``CarRacing-v3`` needs Box2D and pygame."""

from __future__ import annotations

import importlib.util

import pytest

HAS_BOX2D = all(importlib.util.find_spec(name) is not None for name in ("Box2D", "pygame"))
"""Whether ``CarRacing-v3`` can run here."""

BOX2D_MISSING = 'CarRacing needs `pip install "gymnasium[box2d]"`'
"""The reason given by tests skipped without it."""

needs_box2d = pytest.mark.skipif(not HAS_BOX2D, reason=BOX2D_MISSING)
"""Mark of tests that drive ``CarRacing-v3``."""
