"""Where the model lives and what may be sent to it: built once (environment, then `[ai]` in secrets.toml)
and passed to whatever asks for a suggestion. Nothing here writes to `os.environ`.

    OPENAI_API_KEY      the key; without one the deterministic offline assistant answers
    OPENAI_BASE_URL     any OpenAI-compatible server (a local vLLM, Ollama, LiteLLM…)
    EXQ_AI_MODEL        the model name (default gpt-4o-mini)
    EXQ_AI_TIMEOUT_S    the total budget for one suggestion, retries included (default 8 s)
    EXQ_AI_SEND_TEXT    `off` sends no free customer text at all (default on: masked)
"""
from __future__ import annotations

import logging
import os
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

log = logging.getLogger(__name__)

PROMPT_VERSION = "assist-2"
OFFLINE_MODEL = "offline"
OFFLINE_PROMPT_VERSION = "offline-3"
OFFLINE_SOURCE = "offline"
FALLBACK_SOURCE = "fallback"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 8.0
OPENAI_SERVER = "https://api.openai.com/v1"

SETTING_ENV = {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL", "model": "EXQ_AI_MODEL",
               "timeout_s": "EXQ_AI_TIMEOUT_S", "send_text": "EXQ_AI_SEND_TEXT"}
_OFF = ("off", "0", "false", "no", "none")


class AIConfig(BaseModel):
    """The assistant's settings. `enabled` means a model is asked; otherwise the offline assistant answers."""
    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=600)
    send_text: bool = True

    @property
    def enabled(self) -> bool:
        return self.api_key is not None and bool(self.api_key.get_secret_value().strip())

    @property
    def server(self) -> str:
        """The address suggestions are asked from; part of what a stored suggestion is filed under."""
        return (self.base_url or OPENAI_SERVER).rstrip("/") if self.enabled else OFFLINE_MODEL

    @property
    def key_model(self) -> str:
        """The `model` a stored suggestion is filed under."""
        return self.model if self.enabled else OFFLINE_MODEL

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSION if self.enabled else OFFLINE_PROMPT_VERSION

    @property
    def source(self) -> str:
        return "model" if self.enabled else OFFLINE_SOURCE

    @property
    def problem(self) -> str | None:
        """A configuration that cannot work as meant, in words a person can act on."""
        if self.base_url and not self.enabled:
            return (f"OPENAI_BASE_URL is set ({self.base_url}) but OPENAI_API_KEY is not, so suggestions come "
                    "from the offline assistant. Set OPENAI_API_KEY (any non-empty value for a local server "
                    "that needs none) and restart exq.")
        return None

    def describe(self) -> str:
        if not self.enabled:
            return "the offline assistant (no OPENAI_API_KEY)"
        return f"model {self.model} at {self.server}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None,
                 settings: Mapping | None = None) -> "AIConfig":
        """From the environment; `settings` (an `[ai]` table: api_key, base_url, model, timeout_s, send_text)
        fills what the environment leaves unset."""
        env = os.environ if env is None else env
        settings = settings or {}

        def get(key: str) -> str | None:
            value = (env.get(SETTING_ENV[key]) or "").strip()
            if not value and settings.get(key) is not None:
                value = str(settings.get(key)).strip()
            return value or None

        timeout = DEFAULT_TIMEOUT_S
        if raw := get("timeout_s"):
            try:
                timeout = float(raw)
                if not 0 < timeout <= 600:
                    raise ValueError
            except ValueError:
                log.warning("EXQ_AI_TIMEOUT_S=%r is not a number of seconds in (0, 600]; using %s",
                            raw, DEFAULT_TIMEOUT_S)
                timeout = DEFAULT_TIMEOUT_S
        key = get("api_key")
        send = (get("send_text") or "on").lower() not in _OFF
        return cls(api_key=SecretStr(key) if key else None, base_url=get("base_url"),
                   model=get("model") or DEFAULT_MODEL, timeout_s=timeout, send_text=send)
