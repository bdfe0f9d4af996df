"""Small asyncio adapters, one per outside thing: the followed log (`tail`), the launched
training command (`process`), and the other edges. They hold no business rules."""
