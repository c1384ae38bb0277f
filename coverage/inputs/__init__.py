"""Readers for boundaries and facility points, and Chinese coordinate systems."""
