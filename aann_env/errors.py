"""Exceptions raised by aann. Each message says what was wrong and what to do about it."""

from __future__ import annotations


class AANNError(Exception):
    """Base class of every error aann raises on purpose."""


class DataError(AANNError):
    """A data set is missing, corrupted, or not in the expected format."""


class CheckpointError(AANNError):
    """A saved network or run checkpoint cannot be read or does not match what was asked for."""


class SwapError(AANNError, ValueError):
    """A bit-swap is not legal for the network it is applied to."""


class RunLockedError(AANNError):
    """A run directory is being written by another live process."""
