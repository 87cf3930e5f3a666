"""One-off scripts (building the shipped model, experiments). Run from the repository root as
modules, e.g. ``python -m scripts.build_pgnmentor_model``."""
