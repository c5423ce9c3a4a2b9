"""Fault-injection fixtures (defined in ``support.py``, shared with the test modules' helpers)."""

from __future__ import annotations

from tests.faults.support import fault_settings, services

__all__ = ["fault_settings", "services"]
