"""``gesture serve``: the HTTP decision service (issue 16). Needs the ``server`` extra (FastAPI, uvicorn,
prometheus-client): ``pip install 'gesture-engine[server]'``. See docs/service.md."""

from gesture_engine.server.app import ApiError, Loaded, ServerConfig, Service, create_app, load_state
from gesture_engine.server.auth import Caller, TokenError, Tokens, load_tokens, parse_tokens
from gesture_engine.server.run import serve

__all__ = ["ApiError", "Caller", "Loaded", "ServerConfig", "Service", "TokenError", "Tokens", "create_app", "load_state", "load_tokens",
           "parse_tokens", "serve"]
