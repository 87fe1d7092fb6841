"""Layout: where each table column lives in the encoded arrays and in model space."""

import numpy as np
import pandas as pd
import pytest
import torch

from synthaug.encoding import Layout, TableEncoder
from synthaug.encoding.layout import group_blocks

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
    for g, blocks in zip(lt.groups, lt.block_logits(x)):
        assert ((blocks == 1) & g.valid).sum(lt.LEVELS).eq(1).all()     # exactly one +1 per block
        np.testing.assert_array_equal(blocks.argmax(lt.LEVELS).numpy(), table.discrete[:, g.blocks.numpy()])
    np.testing.assert_array_equal(lt.block_codes(x).numpy(), table.discrete)


def test_block_logits_pads_with_minus_infinity():
    lt = HAND.tensors("cpu")
    out = torch.randn(5, HAND.width)
    groups = lt.block_logits(out)
    assert sorted(b for g in lt.groups for b in g.blocks.tolist()) == list(range(HAND.n_discrete))
    for g, blocks in zip(lt.groups, groups):
        cards = [HAND.cardinalities[b] for b in g.blocks.tolist()]
        assert blocks.shape == (5, max(cards), len(cards))
        for d, (b, card) in enumerate(zip(g.blocks.tolist(), cards)):
            off = HAND.offsets[b]
            torch.testing.assert_close(blocks[:, :card, d], out[:, off: off + card])
            assert torch.isneginf(blocks[:, card:, d]).all()


def test_log_mass_is_the_probability_of_the_allowed_levels_and_constraints_repeat():
    from synthaug.encoding.layout import Constraints

    lt = HAND.tensors("cpu")
    out = torch.randn(4, HAND.width)
    allowed = torch.ones(HAND.width, dtype=torch.bool)
    off = int(HAND.offsets[1])
    allowed[off] = False                                   # block 1 (3 levels): level 0 forbidden
    constraints = Constraints(allowed=allowed)
    assert constraints.weighs_levels and not Constraints().weighs_levels
    logits = lt.block_logits(out)
    mass = lt.log_mass(lt.mask_logits(logits, constraints), logits)
    assert mass.shape == (4, HAND.n_discrete)
    p = torch.softmax(out[:, off: off + 3], 1)
    torch.testing.assert_close(mass[:, 1], torch.log(p[:, 1] + p[:, 2]))
    assert (mass[:, [0, 2, 3]].abs() < 1e-6).all()
    per_row = Constraints(low=torch.zeros(4, HAND.n_continuous, 1), high=torch.ones(4, HAND.n_continuous, 1))
    assert per_row.repeat(3).low.shape == (12, HAND.n_continuous, 1)
    shared = Constraints(low=torch.zeros(HAND.n_continuous), allowed=allowed)
    assert shared.repeat(3).low is shared.low and shared.repeat(3).allowed is allowed


def test_blocks_are_grouped_to_limit_padding():
    # one 100-level column among twenty 3-level ones: padded per group, not 100 levels for every block
    layout = Layout(0, (3,) * 10 + (100,) + (3,) * 10, tuple((None, d) for d in range(21)))
    lt = layout.tensors("cpu")
    assert sum(g.index.numel() for g in lt.groups) == 100 + 3 * 20
    codes = torch.stack([torch.randint(c, (40,)) for c in layout.cardinalities], 1)
    x = lt.to_model(torch.zeros(40, 0), codes)
    np.testing.assert_array_equal(lt.block_codes(x).numpy(), codes.numpy())
    ce = lt.cross_entropy(x * 50, codes)    # confident, correct logits → near-zero cross-entropy per block
    assert ce.shape == (40, 21) and (ce < 1e-6).all()


@pytest.mark.parametrize("cards", [(2,), (5, 5, 5), (2, 40, 3, 7, 7, 300, 2), (1, 1), (9, 2, 9, 2, 9, 2)])
def test_group_blocks_is_a_partition_sorted_by_cardinality(cards):
    groups = group_blocks(cards)
    flat = np.concatenate(groups)
    assert sorted(flat.tolist()) == list(range(len(cards)))
    sizes = [np.asarray(cards)[g] for g in groups]
    assert all(a.max() <= b.min() for a, b in zip(sizes, sizes[1:]))
    padded = sum(s.max() * len(s) for s in sizes) + 8 * len(groups)
    assert padded <= max(cards) * len(cards) + 8       # never worse than one padded tensor


def test_blocks_to_flat_inverts_block_logits():
    lt = HAND.tensors("cpu")
    out = torch.randn(7, HAND.width, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lt.blocks_to_flat(lt.block_logits(out)), out[:, HAND.n_continuous:])
    blocks = lt.block_logits(out)
    rebuilt = lt.block_logits(torch.cat([out[:, : HAND.n_continuous], lt.blocks_to_flat(blocks)], 1))
    for a, b in zip(rebuilt, blocks):
        torch.testing.assert_close(a, b)


def test_softmax_over_blocks_sums_to_one_per_block():
    lt = HAND.tensors("cpu")
    flat = lt.blocks_to_flat(lt.softmax(lt.block_logits(torch.randn(3, HAND.width))))
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


def test_gather_builds_the_selected_rows():
    lt = HAND.tensors("cpu")
    g = torch.Generator().manual_seed(2)
    cont = torch.randn(30, HAND.n_continuous, generator=g)
    codes = torch.stack([torch.randint(c, (30,), generator=g) for c in HAND.cardinalities], 1)
    index = torch.tensor([4, 0, 4, 29])
    torch.testing.assert_close(lt.gather(cont, codes, index), lt.to_model(cont[index], codes[index]))


def test_draw_codes_follows_the_probabilities_and_never_draws_a_zero_level():
    lt = HAND.tensors("cpu")
    logits = torch.zeros(1, HAND.width)
    logits[0, HAND.offsets[1]: HAND.offsets[1] + 3] = torch.log(torch.tensor([0.2, 0.0, 0.8]))
    probs = lt.softmax(lt.block_logits(logits.expand(20_000, -1).clone()))
    codes = lt.draw_codes(probs, torch.Generator().manual_seed(0))
    assert codes.shape == (20_000, HAND.n_discrete)
    share = torch.bincount(codes[:, 1], minlength=3).double() / 20_000
    assert share[1] == 0 and abs(share[0] - 0.2) < 0.015 and abs(share[2] - 0.8) < 0.015
    for d, card in enumerate(HAND.cardinalities):   # padding is never drawn; uniform blocks stay uniform
        counts = torch.bincount(codes[:, d], minlength=max(HAND.cardinalities))
        assert counts[card:].sum() == 0
        if d != 1:
            assert (counts[:card].double() / 20_000 - 1 / card).abs().max() < 0.015


def test_cross_entropy_matches_each_blocks_log_softmax():
    lt = HAND.tensors("cpu")
    g = torch.Generator().manual_seed(2)
    out = torch.randn(6, HAND.width, generator=g)
    codes = torch.stack([torch.randint(c, (6,), generator=g) for c in HAND.cardinalities], 1)
    expected = torch.stack([-torch.log_softmax(out[:, off: off + card], 1)[torch.arange(6), codes[:, d]]
                            for d, (off, card) in enumerate(zip(HAND.offsets, HAND.cardinalities))], 1)
    torch.testing.assert_close(lt.cross_entropy(out, codes), expected)


def test_kl_divergence_matches_each_block_and_ignores_padding():
    lt = HAND.tensors("cpu")
    g = torch.Generator().manual_seed(3)
    target, out = torch.randn(6, HAND.width, generator=g), torch.randn(6, HAND.width, generator=g)
    out.requires_grad_(True)
    kl = lt.kl_divergence(target, out)
    expected = torch.stack([torch.nn.functional.kl_div(torch.log_softmax(out[:, off: off + card], 1),
                                                       torch.log_softmax(target[:, off: off + card], 1),
                                                       reduction="none", log_target=True).sum(1)
                            for off, card in zip(HAND.offsets, HAND.cardinalities)], 1)
    torch.testing.assert_close(kl, expected)
    assert torch.allclose(lt.kl_divergence(target, target), torch.zeros(6, HAND.n_discrete), atol=1e-6)
    kl.sum().backward()   # blocks of 2 levels are padded to 3 in their group: no NaN may leak back
    assert torch.isfinite(out.grad).all()
    assert (out.grad[:, : HAND.n_continuous] == 0).all()
