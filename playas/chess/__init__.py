"""Chess for playas: lc0-compatible encoding, the SE-ResNet policy, PGN ingestion, Maia import."""

# How every chess player of playas samples by default (engine, self-play, Lichess bot, flags): 1 the
# person's own choices, 0 the likeliest move. Here, where it costs no import to read.
TEMPERATURE = 1.0
# ...and keeps only the likeliest moves that reach this much probability together (1: every move).
TOP_P = 1.0
# From this move on the engine chooses at TEMP_ENDGAME instead (lc0's TempCutoffMove and TempEndgame):
# measured on held-out grandmaster games, sampling past the opening costs 3.6 times the person's
# centipawn loss, the most visited move of a search in their time 1.07 (bench/chess_strength.py).
TEMP_CUTOFF_MOVE = 10
TEMP_ENDGAME = 0.0
