"""Which measured properties span decades, and how their uncertainties move to and from log10.

Conductivities and diffusivities span orders of magnitude, so models learn them as log10 and a
value <= 0 cannot be one of them. The dataset loader, the emulator, the lab-queue reader, the
campaign objective, the MD oracle and the report's Arrhenius plot all need that rule and the same
first-order propagation of a standard uncertainty; it is written here once.
"""

from __future__ import annotations

import math

LOG_SCALE_WORDS = ("conductivity", "diffusivity")  # a property whose name holds one of these spans decades


def is_log_scale(prop: str) -> bool:
    """True for transport coefficients ('conductivity', 'li_diffusivity', 'conductivity_300K'): learned as
    log10 and necessarily > 0. A name already in log10 ('log10_conductivity_300K') is not."""
    return not prop.startswith("log10_") and any(word in prop for word in LOG_SCALE_WORDS)


def log10_std(value: float, std: float) -> float:
    """Standard uncertainty of log10(value) from that of a value > 0 (first order)."""
    return std / (value * math.log(10))


def linear_std(log10_value: float, log10_uncertainty: float) -> float:
    """Standard uncertainty of 10**log10_value from that of log10_value (first order)."""
    return 10 ** log10_value * math.log(10) * log10_uncertainty
