"""Settings: every environment variable of DESIGN.md's contracts, read from env and `.env`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_LOCALES = ("en", "fr", "ru")

# Telegram bot tokens are "<bot id>:<35 url-safe characters>".
_BOT_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,60}$")


class ConfigError(Exception):
    """Invalid configuration; the message names the variable and what is wrong."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("motriforge", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = Field(default=None, description="Telegram bot token")
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset → embedded PostgreSQL"
    )
    motriforge_data_dir: Path = Field(
        default_factory=default_data_dir, description="Where the embedded database lives"
    )
    telegram_api_base: str = Field(
        default="https://api.telegram.org", description="Bot API server base URL"
    )
    redis_url: str | None = Field(default=None, description="Redis URL (FSM, rate limiter)")
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL for webhooks")
    webhook_secret: SecretStr | None = Field(default=None, description="Webhook secret token")
    default_locale: Literal["en", "fr", "ru"] = Field(default="en")
    payment_provider_token: SecretStr | None = Field(
        default=None, description="Telegram Payments provider token"
    )
    payment_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    throttle_burst: int = Field(default=8, ge=1, description="Updates a person may send at once")
    throttle_rate: float = Field(
        default=2.0, gt=0, description="Updates per second a person may sustain"
    )
    send_rate: float = Field(
        default=25.0, gt=0, le=30, description="Notifications per second for the whole bot"
    )
    handler_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before a handler is cancelled and reported"
    )

    @field_validator("bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _BOT_TOKEN_RE.match(value.get_secret_value()):
            raise ValueError("expected '<digits>:<35 letters, digits, _ or ->' as BotFather gives")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a URL; expected postgresql://user:password@host:5432/dbname"
            ) from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"backend '{url.get_backend_name()}' is not PostgreSQL")
        if not url.database:
            raise ValueError("no database name in the URL")
        return value

    @field_validator("telegram_api_base", "webhook_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^rediss?://", value):
            raise ValueError("expected redis://host:6379/0")
        return value or None

    def async_database_url(self) -> URL | None:
        """The configured URL with the asyncpg driver, or None for the embedded server."""
        if self.database_url is None:
            return None
        return to_asyncpg(make_url(self.database_url))

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets and passwords masked (for `doctor`)."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                text = "(unset)"
            elif isinstance(value, SecretStr):
                text = "********"
            elif name in {"database_url", "redis_url"}:
                text = make_url(value).render_as_string(hide_password=True)
            else:
                text = str(value)
            shown[name.upper()] = text
        return shown


def to_asyncpg(url: URL) -> URL:
    return url.set(drivername="postgresql+asyncpg")


def format_validation_error(error: ValidationError) -> str:
    """One line per bad variable: `DATABASE_URL: not a URL; …`."""
    lines = []
    for item in error.errors():
        variable = str(item["loc"][0]).upper() if item["loc"] else "configuration"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"invalid configuration: {format_validation_error(error)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
