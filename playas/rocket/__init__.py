"""Rocket League: replays to decisions, one observation encoder for every source, the 90-action
table, a causal transformer policy, and its styles through :mod:`playas.core`."""
