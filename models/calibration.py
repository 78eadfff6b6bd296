"""Is a model's uncertainty honest? Coverage of held-out results by its predicted intervals.

A calibrated Gaussian prediction puts 68.3% of outcomes within ±1 std and 95.4% within ±2 std;
fewer means an over-confident model (its acquisition explores too little), more an under-confident
one. `mean_z2` (mean squared standardised error) is 1 for a calibrated model.
"""

from __future__ import annotations

import numpy as np


def coverage(mean, std, y) -> dict[str, float]:
    mean, std, y = (np.asarray(a, dtype=float).reshape(-1) for a in (mean, std, y))
    z = np.abs(y - mean) / np.maximum(std, 1e-12)
    return {"within_1std": float(np.mean(z <= 1.0)), "within_2std": float(np.mean(z <= 2.0)),
            "mean_z2": float(np.mean(z ** 2)), "n": int(len(z))}
