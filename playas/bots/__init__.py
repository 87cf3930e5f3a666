"""The adapters that put a style in front of players: the UCI engine (and later the bots).

Thin by design: protocol handling here, every move from :class:`playas.chess.policy.Policy`.
"""
