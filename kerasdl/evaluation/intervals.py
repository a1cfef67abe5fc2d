"""The interval kerasdl puts around a mean of paired differences (two
recipes' scores on the same seeds, two masks on the same images)."""

from __future__ import annotations

from typing import Optional

import numpy as np

# The interval's confidence. A paired t interval: with the few pairs people
# run (3 to 10) the percentile bootstrap's interval is the spread of the
# pairs themselves and covers the true difference far less often than it
# says (75 % of the time at 3 pairs, 85 % at 5, 90 % at 10, where the t
# interval covers 94-96 %: tests/test_compare.py simulates it).
CONFIDENCE = 0.95


def t_interval(differences: np.ndarray, confidence: float = CONFIDENCE) -> Optional[list[float]]:
    """The paired t interval of the mean difference: mean ± t(n − 1) · s / √n,
    exact for normal differences and close for others at these sizes; None
    for a single pair, whose spread is unknown."""
    from scipy import stats

    count = len(differences)
    if count < 2:
        return None
    half = stats.t.ppf((1 + confidence) / 2, count - 1) * np.std(differences, ddof=1) / np.sqrt(count)
    mean = float(np.mean(differences))
    return [mean - float(half), mean + float(half)]
