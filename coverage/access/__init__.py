"""Accessibility beyond coverage: floating catchments, cumulative opportunities, capacity and workload."""
