"""Measurements behind the README's speed and scale figures (run through scripts/)."""
