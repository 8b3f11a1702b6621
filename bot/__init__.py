"""MōtriForge transport layer: aiogram routers, middlewares, CLI, scheduler, Bot API emulator."""
