"""Noise schedules and DDIM timesteps: valid for any number of steps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthaug.diffusion import SCHEDULES, cosine_betas, ddim_timesteps, get_betas, linear_betas

_T = st.integers(min_value=1, max_value=2000)


@pytest.mark.parametrize("schedule", [cosine_betas, linear_betas])
@settings(max_examples=50, deadline=None)
@given(n=_T)
def test_schedule_is_valid_for_any_T(schedule, n):
    betas = schedule(n)
    assert betas.shape == (n,) and betas.dtype == np.float64
    assert np.all((betas > 0) & (betas < 1))
    alpha_bar = np.cumprod(1 - betas)
    assert np.all(np.diff(alpha_bar) < 0)                 # ᾱ strictly decreasing
    if n >= 2:
        assert alpha_bar[-1] < 1e-3                       # x_T is (nearly) pure noise
    if n >= 10:
        assert alpha_bar[0] > 0.9                         # x_1 is (nearly) clean


def test_cosine_schedule_follows_its_closed_form():
    n, s = 100, 0.008
    alpha_bar = np.cumprod(1 - cosine_betas(n, s=s))
    t = np.arange(1, n + 1) / n
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
    np.testing.assert_allclose(alpha_bar[:-5], f[:-5], rtol=1e-10)   # the last steps are clipped at max_beta


def test_linear_schedule_at_1000_steps_is_ho_et_al():
    np.testing.assert_allclose(linear_betas(1000)[[0, -1]], [1e-4, 0.02])


def test_get_betas_dispatches_and_rejects_unknown_names():
    for name, fn in SCHEDULES.items():
        np.testing.assert_array_equal(get_betas(name, 10), fn(10))
    with pytest.raises(ValueError, match="'sigmoid'.*cosine.*linear"):
        get_betas("sigmoid", 10)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_ddim_timesteps_decrease_from_T_minus_1(data):
    n = data.draw(st.integers(2, 2000), label="n_timesteps")
    steps = data.draw(st.integers(2, n), label="steps")
    ts = ddim_timesteps(n, steps)
    assert ts.dtype == np.int64 and ts.shape == (steps,)
    assert ts[0] == n - 1 and np.all(np.diff(ts) < 0)
    # trailing: evenly spaced, the last one a step above 0 (its x̂₀ is the sample)
    assert abs(ts[-1] - (n / steps - 1)) <= 0.5 and np.ptp(np.diff(ts)) <= 1
    old = ddim_timesteps(n, steps, spacing="linspace")
    assert old.shape == (steps,) and old[0] == n - 1 and old[-1] == 0 and np.all(np.diff(old) < 0)


def test_ddim_timesteps_with_every_step_kept():
    for spacing in ("trailing", "linspace"):
        np.testing.assert_array_equal(ddim_timesteps(7, 7, spacing=spacing), np.arange(7)[::-1])
    np.testing.assert_array_equal(ddim_timesteps(1000, 5), [999, 799, 599, 399, 199])
    np.testing.assert_array_equal(ddim_timesteps(1000, 5, spacing="linspace"), [999, 749, 500, 250, 0])
    with pytest.raises(ValueError, match="spacing"):
        ddim_timesteps(10, 2, spacing="leading")


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_single_ddim_step_starts_from_pure_noise(n):
    np.testing.assert_array_equal(ddim_timesteps(n, 1), [n - 1])


@pytest.mark.parametrize("n, steps", [(10, 0), (10, 11), (10, -1), (1, 2)])
def test_ddim_timesteps_reject_steps_outside_1_to_T(n, steps):
    with pytest.raises(ValueError, match=r"\[1, %d\]" % n):
        ddim_timesteps(n, steps)
