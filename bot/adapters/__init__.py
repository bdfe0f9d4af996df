"""Thin asyncio edges around outside things: one small module per thing."""
