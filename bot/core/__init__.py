"""The pure core: no asyncio, no I/O, no clock reads. Time is always passed in."""
