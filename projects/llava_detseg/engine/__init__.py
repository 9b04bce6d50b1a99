"""Hooks and optimisation wrappers of the project (registered on import)."""
