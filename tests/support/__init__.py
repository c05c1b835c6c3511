"""Helpers shared by tests of several packages (importable because pytest puts tests/ on the path)."""
