"""MōtriForge domain: models, services, access rules. Never imports bot/ or aiogram."""

__version__ = "0.1.0"
