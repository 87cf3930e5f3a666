"""A Lichess bot account that plays as a person: ``playas chess lichess --config configs/lichess.yml``.

A thin adapter over the chess move interface (:mod:`playas.chess.engine`), in lichess-bot's
terms: :mod:`.config` (the YAML and the challenge filters), :mod:`.api` (the Lichess Bot API
through ``berserk``), :mod:`.engine_wrapper` (the model and the style each game plays),
:mod:`.bot` (the account's event stream) and :mod:`.game` (one game). The token comes only from
the environment variable ``LICHESS_TOKEN`` and is never written anywhere.
"""

from __future__ import annotations

import logging
import os

from ...core.errors import PlayasError
from .api import TOKEN_VARIABLE, Lichess, LichessError, TokenRefused
from .bot import LOG, LichessBot
from .config import Config, load_config
from .engine_wrapper import EngineWrapper

__all__ = ["EngineWrapper", "LichessBot", "connect", "load_config", "run", "token_from_environment"]


def token_from_environment() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise PlayasError(f"set the {TOKEN_VARIABLE} environment variable to the bot account's API token "
                          "(bot:play scope)")
    return token


def connect(cfg: Config, token: str) -> tuple[Lichess, dict]:
    """The API client and the account, after checking that the token is valid and a bot's."""
    api = Lichess(token, cfg.url, rate_limit_wait=cfg.rate_limit_wait, stream_timeout=cfg.stream_timeout,
                  pool=2 * cfg.challenge.concurrency + 8)
    try:
        account = api.account()
    except TokenRefused as e:
        raise PlayasError(str(e)) from None
    except LichessError as e:
        raise PlayasError(f"cannot reach Lichess at {api.url}: {e}") from None
    if account.get("title") != "BOT":
        raise PlayasError(f"the Lichess account {account.get('username', '?')} is not a bot account; upgrade it "
                          "first (https://lichess.org/api#tag/Bot/operation/botAccountUpgrade)")
    return api, account


def run(config_path, model=None) -> int:
    """``playas chess lichess``: load the config and the model, log in, and play until Ctrl-C."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    cfg = load_config(config_path)
    if cfg.unused:
        LOG.info("not used by playas (lichess-bot settings): %s", ", ".join(cfg.unused))
    token = token_from_environment()  # the cheap checks first: config, token, then the model and the network
    engine = EngineWrapper(cfg.engine, model)
    api, account = connect(cfg, token)
    return LichessBot(cfg, engine, api, account).run()
