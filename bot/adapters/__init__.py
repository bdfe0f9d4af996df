"""Adapters: one small module per outside thing (NVML, log tail, store, Telegram, ...)."""
