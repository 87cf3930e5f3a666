"""Chess for playas: lc0-compatible encoding, the SE-ResNet policy, PGN ingestion, Maia import."""
