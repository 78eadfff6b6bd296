"""Committee force deviation and on-the-fly frame selection (oracles/mlip/committee.py) on synthetic forces."""

import numpy as np
import pytest

from amala.oracles.mlip.committee import Action, FrameSelector, Trust, TrustWindow, force_deviation


def test_force_deviation_is_the_worst_atoms_rms_spread():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 32, 3))
    forces = np.repeat(base, 4, axis=0)
    assert force_deviation(forces) == pytest.approx(0.0, abs=1e-12)  # identical members agree exactly
    forces[:, 7, 0] += np.array([0.3, -0.3, 0.3, -0.3])  # one atom: members differ by +-0.3 eV/Å along x
    assert force_deviation(forces) == pytest.approx(0.3)
    forces[:, 3, :] += rng.normal(scale=0.01, size=(4, 3))  # small noise elsewhere does not win the max
    assert force_deviation(forces) == pytest.approx(0.3)
    blown = forces.copy()
    blown[2, 0, 0] = np.nan
    assert force_deviation(blown) == float("inf")


@pytest.mark.parametrize("shape", [(1, 5, 3), (3, 5), (3, 5, 2)])
def test_force_deviation_refuses_what_is_not_a_committee(shape):
    with pytest.raises(ValueError, match=r"^committee forces: "):
        force_deviation(np.zeros(shape))


def test_trust_window_classes_and_bad_windows():
    window = TrustWindow()
    assert [window.classify(d) for d in (0.01, 0.05, 0.149, 0.15, 2.0)] == [
        Trust.TRUSTED, Trust.UNCERTAIN, Trust.UNCERTAIN, Trust.UNTRUSTED, Trust.UNTRUSTED]
    for lo, hi in [(0.2, 0.1), (0.0, 0.1), (0.1, 0.1)]:
        with pytest.raises(ValueError, match="trust_lo < trust_hi"):
            TrustWindow(lo, hi)


def test_selector_labels_spaced_uncertain_frames_and_restarts_on_untrusted_ones():
    selector = FrameSelector(min_spacing=5, per_round=3, budget=100, window=10)
    deviations = {0: 0.01, 1: 0.08, 2: 0.09, 6: 0.07, 7: 0.3, 8: 0.02, 12: 0.1, 13: 0.1, 20: 0.1}
    actions = {step: selector.observe(step, d) for step, d in deviations.items()}
    assert actions == {0: Action.CONTINUE, 1: Action.LABEL, 2: Action.CONTINUE,  # 2: too close to 1
                       6: Action.LABEL, 7: Action.RESTART, 8: Action.CONTINUE, 12: Action.LABEL,
                       13: Action.CONTINUE, 20: Action.CONTINUE}  # 20: the round is full (3)
    assert selector.pending == [1, 6, 12] and selector.round_full
    assert selector.last_trusted_step == 8  # where the restart after step 7 goes back to
    assert selector.log.as_dict() == {"seen": 9, "trusted": 2, "uncertain": 6, "untrusted": 1, "selected": 3,
                                      "restarts": 1}
    selector.labelled(3)
    assert selector.pending == [] and selector.spent == 3 and not selector.round_full
    assert selector.observe(30, 0.1) is Action.LABEL  # a new round takes frames again


def test_selector_never_exceeds_the_teacher_budget():
    selector = FrameSelector(min_spacing=1, per_round=10, budget=4, window=10)
    labelled = [step for step in range(50) if selector.observe(step, 0.1) is Action.LABEL]
    assert labelled == [0, 1, 2, 3]
    selector.labelled(4)
    assert selector.budget_spent and selector.observe(60, 0.1) is Action.CONTINUE


def test_converged_when_the_recent_uncertain_fraction_is_small():
    selector = FrameSelector(window=100, converged_fraction=0.02, budget=1000)
    for step in range(100):
        selector.observe(step, 0.1 if step % 10 == 0 else 0.01)  # 10% uncertain
    assert not selector.converged
    for step in range(100, 200):
        selector.observe(step, 0.1 if step == 150 else 0.01)  # the last 100 frames: 1% uncertain
    assert selector.converged
    short = FrameSelector(window=100)
    for step in range(50):
        short.observe(step, 0.01)
    assert not short.converged  # too few frames to judge
