"""The adapters that put a style in front of players, each thin, over one game's public interface.

Chess: :mod:`.uci` (the UCI engine) and :mod:`.lichess` (a Lichess bot account), both choosing
every move through :class:`playas.chess.engine.Engine`; :mod:`.arena` referees clocked games
between UCI engines for the tests and benchmarks.
"""
