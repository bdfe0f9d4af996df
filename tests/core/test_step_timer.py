"""StepTimer computes its window's statistics lazily and in C: the values must be those of
the plain definitions (median, trimmed mean, median deviation) recomputed at every block."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.estimator import CHANGE_BLOCKS, CHANGE_MIN, TRIM, WINDOW_BLOCKS, StepTimer


class Reference:
    """The step timer's rules written plainly, recomputed in full at every block."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, float]] = []
        self.step_s: float | None = None
        self.spread = 0.0

    def add(self, iters: int, secs: float) -> None:
        self.blocks = [*self.blocks, (iters, secs)][-WINDOW_BLOCKS:]
        rates = [s / i for i, s in self.blocks]
        step = self.step_s
        if step and len(rates) > 2 * CHANGE_BLOCKS:
            threshold = max(CHANGE_MIN, 3 * self.spread)
            recent = [r / step - 1 for r in rates[-CHANGE_BLOCKS:]]
            if all(d > threshold for d in recent) or all(d < -threshold for d in recent):
                self.blocks, rates = self.blocks[-CHANGE_BLOCKS:], rates[-CHANGE_BLOCKS:]
        median = statistics.median(rates)
        ordinary = [
            b
            for b, r in zip(self.blocks, rates, strict=True)
            if median / TRIM <= r <= median * TRIM
        ] or self.blocks
        self.step_s = sum(s for _, s in ordinary) / sum(i for i, _ in ordinary)
        self.spread = statistics.median(abs(r / median - 1) for r in rates) if median else 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 60),
            st.one_of(st.floats(0.5, 1.5), st.floats(0.9, 1.1), st.floats(0.01, 20.0)),
        ),
        min_size=1,
        max_size=300,
    ),
    st.floats(0.01, 100.0),
)
def test_statistics_are_those_of_the_plain_definitions(
    blocks: list[tuple[int, float]], scale: float
) -> None:
    timer, reference = StepTimer(), Reference()
    for k, (iters, rate) in enumerate(blocks):
        secs = iters * rate * scale
        timer.add(iters, secs, 20 * k)
        reference.add(iters, secs)
        assert timer.step_s == reference.step_s
        assert timer.spread == reference.spread
