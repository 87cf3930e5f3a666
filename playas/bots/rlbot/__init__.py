"""Playas as an RLBot v5 bot: ``playas rocket rlbot --style Posix --out DIR`` writes a bot folder
(:mod:`.folder`) whose ``run_command`` starts :class:`~playas.bots.rlbot.bot.PlayasBot`.

Light on purpose: rlbot and torch load only in the bot process (:mod:`.bot`).
"""

from .folder import add_command, write_bot_folder

__all__ = ["add_command", "write_bot_folder"]
