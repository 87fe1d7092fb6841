"""Image building blocks: the digits loader and the PNG grid."""

import numpy as np
import pytest

from synthaug.datasets import load_digits
from synthaug.plotting import image_grid


def test_load_digits_shapes_and_range():
    X, y = load_digits(return_X_y=True)
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.uint8
    assert X.min() == 0 and X.max() == 255
    assert y.shape == (1797,) and set(y.tolist()) == set(range(10))
    bunch = load_digits()
    np.testing.assert_array_equal(bunch.images, X)
    np.testing.assert_array_equal(bunch.target, y)


def test_image_grid_writes_the_png_it_returns(tmp_path):
    import matplotlib.pyplot as plt

    X, _ = load_digits(return_X_y=True)
    grid = image_grid(X[:10], path=tmp_path / "g.png", ncols=5, scale=3, pad=1)
    assert grid.shape == ((2 * 9 + 1) * 3, (5 * 9 + 1) * 3, 3) and grid.dtype == np.uint8
    back = plt.imread(tmp_path / "g.png")
    assert back.shape[:2] == grid.shape[:2]
    np.testing.assert_allclose(back[..., :3] * 255, grid, atol=1)
    # the first image lands in the top-left cell, pixel for pixel (grey → equal channels)
    cell = grid[3:3 + 24:3, 3:3 + 24:3, 0]
    np.testing.assert_array_equal(cell, X[0, 0])


def test_image_grid_accepts_float_and_rgb_and_2d_stacks():
    rng = np.random.default_rng(0)
    assert image_grid(rng.random((4, 3, 5, 5)), scale=1, pad=0).shape == (10, 10, 3)
    assert image_grid(rng.random((3, 6, 6)), scale=1, pad=0, ncols=3).shape == (6, 18, 3)


@pytest.mark.parametrize("X, match", [
    (np.zeros((2, 2)), "rank 2"),
    (np.zeros((2, 4, 5, 5)), "1 or 3 channels"),
    (np.full((1, 1, 2, 2), 300), "0..255"),
    (np.full((1, 1, 2, 2), 1.5), r"\[0, 1\]"),
    (np.full((1, 1, 2, 2), np.nan), "NaN"),
    (np.zeros((0, 1, 2, 2)), "no pixels"),
])
def test_image_grid_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        image_grid(X)
