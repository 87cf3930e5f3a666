"""Chess for playas: lc0-compatible encoding, the SE-ResNet policy, PGN ingestion, Maia import."""

# How every chess player of playas samples by default (engine, self-play, Lichess bot, flags): 1 the
# person's own choices, 0 the likeliest move. Here, where it costs no import to read.
TEMPERATURE = 1.0
