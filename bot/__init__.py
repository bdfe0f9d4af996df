"""etagram: watch an ML training run from the outside and keep its owner informed."""

__version__ = "0.1.0"
