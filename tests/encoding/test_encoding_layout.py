"""Layout: where each table column lives in the encoded arrays and in model space."""

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug.encoding import Layout, TableEncoder

# columns: numeric with a spike at 0 (score + 2 modes), categorical (3 levels), plain numeric
# (score only), bool (2 levels), categorical with missing values (2 levels + <missing>)
HAND = Layout(n_continuous=2, cardinalities=(2, 3, 2, 3),
              column_parts=((0, 0), (None, 1), (1, None), (None, 2), (None, 3)))


def _frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": np.where(rng.random(n) < 0.4, 0.0, rng.gamma(2.0, 10.0, n)),
        "city": rng.choice(["a", "b", "c"], n),
        "x": rng.normal(size=n),
        "flag": rng.random(n) < 0.5,
        "grade": pd.Series(rng.choice(np.array(["lo", "hi", None], dtype=object), n)),
    })


@pytest.fixture(scope="module")
def fitted():
    df = _frame()
    enc = TableEncoder().fit(df)
    return df, enc, enc.layout_.tensors("cpu")


def test_layout_from_a_fitted_encoder(fitted):
    _, enc, _ = fitted
    assert enc.layout_ == HAND


def test_sizes_and_offsets():
    assert HAND.n_discrete == 4 and HAND.n_columns == 5
    assert HAND.width == 2 + 2 + 3 + 2 + 3
    np.testing.assert_array_equal(HAND.offsets, [2, 4, 7, 9])
    np.testing.assert_array_equal(HAND.disc_to_column(), [0, 1, 3, 4])
    np.testing.assert_array_equal(HAND.cont_to_column(), [0, 2])


def test_dim_to_column_agrees_with_column_parts():
    dims = HAND.dim_to_column()
    assert dims.shape == (HAND.width,)
    for j, (ci, di) in enumerate(HAND.column_parts):
        owned = set(np.flatnonzero(dims == j))
        expected = set()
        if ci is not None:
            expected.add(ci)
        if di is not None:
            off = HAND.offsets[di]
            expected |= set(range(off, off + HAND.cardinalities[di]))
        assert owned == expected, j


def test_layout_without_discrete_columns():
    layout = Layout(3, (), ((0, None), (1, None), (2, None)))
    assert layout.width == 3 and layout.offsets.shape == (0,)
    np.testing.assert_array_equal(layout.dim_to_column(), [0, 1, 2])
    lt = layout.tensors("cpu")
    x = lt.to_model(torch.ones(4, 3), torch.zeros(4, 0, dtype=torch.long))
    torch.testing.assert_close(x, torch.ones(4, 3))


def test_to_model_gives_one_plus_one_per_block(fitted):
    df, enc, lt = fitted
    table = enc.transform(df)
    x = lt.to_model(torch.as_tensor(table.continuous), torch.as_tensor(table.discrete))
    assert x.shape == (len(df), enc.layout_.width) and x.dtype == torch.float32
    torch.testing.assert_close(x[:, : lt.n_continuous], torch.as_tensor(table.continuous))
    disc = x[:, lt.n_continuous:]
    assert set(disc.unique().tolist()) <= {-1.0, 1.0}
    blocks = lt.block_logits(x)
    valid = lt.block_valid.expand_as(blocks)
    assert ((blocks == 1) & valid).sum(lt.LEVELS).eq(1).all()     # exactly one +1 per block
    np.testing.assert_array_equal(blocks.argmax(lt.LEVELS).numpy(), table.discrete)
    np.testing.assert_array_equal(lt.block_codes(x).numpy(), table.discrete)


def test_block_logits_pads_with_minus_infinity():
    lt = HAND.tensors("cpu")
    blocks = lt.block_logits(torch.randn(5, HAND.width))
    assert blocks.shape == (5, max(HAND.cardinalities), HAND.n_discrete)
    assert torch.isneginf(blocks[:, 2:, 0]).all() and torch.isneginf(blocks[:, 2:, 2]).all()  # 2-level blocks
    assert torch.isfinite(blocks[lt.block_valid.expand_as(blocks)]).all()


def test_blocks_to_flat_inverts_block_logits():
    lt = HAND.tensors("cpu")
    out = torch.randn(7, HAND.width, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lt.blocks_to_flat(lt.block_logits(out)), out[:, HAND.n_continuous:])
    blocks = lt.block_logits(out)
    rebuilt = lt.block_logits(torch.cat([out[:, : HAND.n_continuous], lt.blocks_to_flat(blocks)], 1))
    torch.testing.assert_close(rebuilt, blocks)


def test_softmax_over_blocks_sums_to_one_per_block():
    lt = HAND.tensors("cpu")
    probs = torch.softmax(lt.block_logits(torch.randn(3, HAND.width)), dim=lt.LEVELS)
    flat = lt.blocks_to_flat(probs)
    for off, card in zip(HAND.offsets - HAND.n_continuous, HAND.cardinalities):
        torch.testing.assert_close(flat[:, off: off + card].sum(1), torch.ones(3))


def test_layout_tensors_mirror_the_layout():
    lt = HAND.tensors("cpu")
    np.testing.assert_array_equal(lt.dim_to_column.numpy(), HAND.dim_to_column())
    np.testing.assert_array_equal(lt.offsets.numpy(), HAND.offsets)
    assert lt.width == HAND.width and lt.n_continuous == HAND.n_continuous
    assert lt.valid_flat.numel() == sum(HAND.cardinalities)


def test_codes_to_flat_matches_to_model():
    lt = HAND.tensors("cpu")
    g = torch.Generator().manual_seed(1)
    codes = torch.stack([torch.randint(c, (50,), generator=g) for c in HAND.cardinalities], 1)
    x = lt.to_model(torch.zeros(50, HAND.n_continuous), codes)
    torch.testing.assert_close(lt.codes_to_flat(codes), x[:, HAND.n_continuous:])
    np.testing.assert_array_equal(lt.block_codes(x).numpy(), codes.numpy())


def test_draw_codes_follows_the_probabilities_and_never_draws_a_zero_level():
    lt = HAND.tensors("cpu")
    logits = torch.zeros(1, HAND.width)
    logits[0, HAND.offsets[1]: HAND.offsets[1] + 3] = torch.log(torch.tensor([0.2, 0.0, 0.8]))
    probs = torch.softmax(lt.block_logits(logits.expand(20_000, -1).clone()), dim=lt.LEVELS)
    codes = lt.draw_codes(probs, torch.Generator().manual_seed(0))
    assert codes.shape == (20_000, HAND.n_discrete)
    share = torch.bincount(codes[:, 1], minlength=3).double() / 20_000
    assert share[1] == 0 and abs(share[0] - 0.2) < 0.015 and abs(share[2] - 0.8) < 0.015
    for d, card in enumerate(HAND.cardinalities):   # padding is never drawn; uniform blocks stay uniform
        counts = torch.bincount(codes[:, d], minlength=max(HAND.cardinalities))
        assert counts[card:].sum() == 0
        if d != 1:
            assert (counts[:card].double() / 20_000 - 1 / card).abs().max() < 0.015
