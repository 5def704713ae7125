"""The progress bars' cap projection (t1core.progress)."""

from t1core.progress import bar_total, cap_projection


def test_no_cap_or_too_early_keeps_the_planned_steps():
    assert cap_projection(100, 10, 30.0, None) is None
    assert cap_projection(100, 0, 0.0, 1.0) is None
    assert cap_projection(100, 1, 5.9, 1.0) is None  # under a tenth of a 60 s cap
    assert bar_total(100, 1, 5.9, 1.0) == 100


def test_a_cap_that_comes_first_sets_the_total():
    assert cap_projection(100, 10, 6.0, 1.0) is None  # the cap would stop it at step 100: the planned end itself
    assert cap_projection(1000, 10, 6.0, 1.0) == 100  # 10 steps in 6 s: 100 steps in 60 s
    assert bar_total(1000, 10, 6.0, 1.0) == 100
    assert bar_total(50, 10, 6.0, 1.0) == 50  # the planned steps end first


def test_the_projection_never_falls_below_the_steps_done():
    assert cap_projection(1000, 30, 61.0, 1.0) == 30  # past the cap already (the last step overran it)
