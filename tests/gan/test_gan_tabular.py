"""The conditional GAN heads: inputs, outputs, constraints, the training step."""

import pytest
import torch

from synthaug.encoding import Layout
from synthaug.encoding.layout import Constraints
from synthaug.gan import ConditionalRowSampler, GANStep, TabularGAN, truncate_scores
from synthaug.nn import DenseGenerator, PackedCritic
from synthaug.training import EMA

# columns: a numeric with modes (score 0, block 0 of 3 levels), a categorical (block 1, 4 levels), a plain numeric
LAYOUT = Layout(2, (3, 4), ((0, 0), (None, 1), (1, None)))


def _nets(gan, noise_dim=4):
    g = DenseGenerator(noise_dim, LAYOUT.width, cond_dim=gan.cond_dim, width=16, depth=1)
    return g.eval(), PackedCritic(gan.critic_dim, pac=2, width=16, depth=1)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sample_rows_are_valid_and_gated():
    gan = TabularGAN(LAYOUT, clip=5.0)
    g, _ = _nets(gan)
    x, codes = gan.sample(g, torch.randn(500, 4, generator=_gen()), generator=_gen(1))
    assert x.shape == (500, LAYOUT.width) and codes.shape == (500, 2)
    blocks = x[:, 2:]
    assert set(blocks.unique().tolist()) <= {-1.0, 1.0}
    assert (((blocks[:, :3] > 0).sum(1) == 1) & ((blocks[:, 3:] > 0).sum(1) == 1)).all()
    assert (x[:, :2].abs() < 5).all()
    # the score of the moded numeric is 0 unless its continuous level (code 0) is drawn
    assert (x[codes[:, 0] != 0, 0] == 0).all()


def test_returned_probabilities_are_the_ones_the_codes_were_drawn_from():
    gan = TabularGAN(LAYOUT, clip=5.0)
    g, _ = _nets(gan)
    noise = torch.randn(300, 4, generator=_gen())
    x, codes, probs = gan.sample(g, noise, generator=_gen(1), return_probs=True)
    plain_x, plain_codes = gan.sample(g, noise, generator=_gen(1))
    assert torch.equal(codes, plain_codes) and torch.equal(x, plain_x)
    assert probs.shape == (300, LAYOUT.width - LAYOUT.n_continuous)
    torch.testing.assert_close(probs[:, :3].sum(1), torch.ones(300))
    torch.testing.assert_close(probs[:, 3:].sum(1), torch.ones(300))
    assert (probs.gather(1, codes + torch.as_tensor(LAYOUT.offsets - LAYOUT.n_continuous)) > 0).all()


def test_given_cells_allowed_levels_and_intervals():
    gan = TabularGAN(LAYOUT, clip=5.0)
    g, _ = _nets(gan)
    n = 400
    cols = torch.zeros(n, 3, dtype=torch.bool)
    cols[:, 1] = True                                             # the categorical is given: level 2
    given = cols[:, torch.as_tensor(LAYOUT.dim_to_column())]
    x_given = torch.full((n, LAYOUT.width), -1.0)
    x_given[:, 5 + 2] = 1.0
    allowed = torch.ones(LAYOUT.width, dtype=torch.bool)
    allowed[2 + 1] = False                                        # level 1 of the moded numeric forbidden
    cons = Constraints(allowed, torch.tensor([-float("inf"), 0.5]), torch.tensor([float("inf"), 1.5]))
    x, codes = gan.sample(g, torch.randn(n, 4, generator=_gen()), cols=cols, given=given, x_given=x_given,
                          constraints=cons, generator=_gen(2))
    assert (codes[:, 1] == 2).all() and torch.equal(x[:, 5:], x_given[:, 5:])
    assert (codes[:, 0] != 1).all()
    assert ((x[:, 1] >= 0.5) & (x[:, 1] <= 1.5)).all()


def test_truncate_scores_is_monotone_and_exact_for_normals():
    z = torch.randn(200_000, generator=_gen())
    out = truncate_scores(z, torch.tensor(1.0), torch.tensor(2.0))
    assert ((out >= 1) & (out <= 2)).all()
    order = torch.argsort(z)
    assert (out[order].diff() >= 0).all()
    # truncated standard normal on [1, 2] has mean (φ(1) − φ(2)) / (Φ(2) − Φ(1)) ≈ 1.3832
    assert float(out.mean()) == pytest.approx(1.3832, abs=0.005)


def test_relaxed_rows_are_differentiable():
    gan = TabularGAN(LAYOUT, clip=5.0, tau=0.5)
    g, critic = _nets(gan)
    g.train()
    cols = torch.zeros(8, 3, dtype=torch.bool)
    x = gan.relaxed(g, torch.randn(8, 4, generator=_gen()), cols, generator=_gen(1))
    blocks = x[:, 2:5]
    assert torch.allclose(((blocks + 1) / 2).sum(1), torch.ones(8), atol=1e-5)   # soft one-hot
    critic(gan.critic_input(x, cols)).sum().backward()
    assert all(p.grad is not None for p in g.parameters())


@pytest.mark.parametrize("loss, gp", [("wgan-gp", 10.0), ("hinge", 0.0), ("bce", 0.0)])
def test_gan_step_updates_both_networks(loss, gp):
    gan = TabularGAN(LAYOUT, clip=5.0)
    g, critic = _nets(gan)
    g.train()
    lt = LAYOUT.tensors("cpu")
    n = 64
    cont = torch.randn(n, 2)
    codes = torch.stack([torch.randint(3, (n,), generator=_gen(3)), torch.randint(4, (n,), generator=_gen(4))], 1)
    opt_g, opt_c = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (g, critic))
    before_g = [p.detach().clone() for p in g.parameters()]
    before_c = [p.detach().clone() for p in critic.parameters()]
    step = GANStep(gan, g, critic, opt_g, opt_c, EMA(g, 0.9), (cont, codes), lt, loss=loss, n_critic=2,
                   gp_weight=gp, noise_dim=4, row_sampler=ConditionalRowSampler(codes, LAYOUT.cardinalities),
                   generator=_gen(5))
    out = step(torch.arange(17))                                  # cut to a multiple of pac (16)
    assert set(out) == {"critic", "generator"} and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before_g, g.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_c, critic.parameters()))
    assert all(p.requires_grad for p in critic.parameters())


def test_residual_space_round_trip_keeps_given_cells_and_placeholders():
    """to_model maps free in-mode scores to residuals, from_model maps them back; given cells, blocks and the
    placeholder 0 of a score outside its continuous mode are kept; with nothing given both are the identity."""
    import numpy as np

    from synthaug.residual import GaussianResidual

    rng = np.random.default_rng(0)
    a = rng.standard_normal(2000)
    scores = np.c_[a, 2 * a + 0.1 * rng.standard_normal(2000)].astype(np.float32)
    codes = np.c_[(rng.random(2000) < 0.2).astype(np.int64), rng.integers(4, size=2000)]
    scores[codes[:, 0] != 0, 0] = 0.0                              # the spike's placeholder, as encoded
    residual = GaussianResidual(LAYOUT).fit(scores, codes)
    gan = TabularGAN(LAYOUT, clip=5.0, residual=residual)
    x = LAYOUT.tensors("cpu").to_model(torch.as_tensor(scores[:200]), torch.as_tensor(codes[:200]))
    cols = torch.zeros(200, 3, dtype=torch.bool)
    cols[:, 0] = True                                             # the moded numeric given
    given = cols[:, torch.as_tensor(LAYOUT.dim_to_column())]
    y = gan.to_model(x, given)
    assert torch.equal(y[:, 2:], x[:, 2:]) and torch.equal(y[:, 0], x[:, 0])
    in_mode = torch.as_tensor(codes[:200, 0] == 0)
    # the free score of a row with a known score is now its residual (at the data's scale): 2a is explained by
    # the given a, and what is left does not follow it
    corr = lambda u, v: float(torch.corrcoef(torch.stack([u, v]))[0, 1])  # noqa: E731
    assert corr(x[in_mode, 1], x[in_mode, 0]) > 0.9 and abs(corr(y[in_mode, 1], x[in_mode, 0])) < 0.2
    torch.testing.assert_close(gan.from_model(y, given, x), x, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gan.to_model(x, torch.zeros_like(given)), x)
    assert gan.to_model(x, None) is x and TabularGAN(LAYOUT).to_model(x, given) is x


def test_generator_condition_carries_the_residuals_level_features():
    """With a Gaussian residual the condition ends with its log level probabilities given the known scores:
    the levels' frequencies when nothing is known, the discriminant's posterior when scores are given; the
    generator's output layer starts as the identity from them to those levels' logits."""
    import numpy as np

    from synthaug.residual import GaussianResidual

    rng = np.random.default_rng(0)
    level = rng.integers(4, size=2000)
    scores = np.c_[np.zeros(2000), 3.0 * level + rng.standard_normal(2000)].astype(np.float32)
    codes = np.c_[np.ones(2000, np.int64), level]                  # the moded numeric always on a spike
    residual = GaussianResidual(LAYOUT).fit(scores, codes)
    gan = TabularGAN(LAYOUT, clip=5.0, residual=residual)
    assert gan.n_features == 4 and list(gan.feature_dims) == [5, 6, 7, 8]
    assert gan.cond_dim == TabularGAN(LAYOUT).cond_dim + 4
    lt = LAYOUT.tensors("cpu")
    x = lt.to_model(torch.as_tensor(scores[:300]), torch.as_tensor(codes[:300]))
    cols = torch.zeros(300, 3, dtype=torch.bool)
    nothing = gan.generator_condition(cols, cols[:, lt.dim_to_column], x)
    torch.testing.assert_close(nothing[:, -4:].exp(), torch.full((300, 4), 0.25), atol=0.03, rtol=0)
    cols[:, 2] = True                                              # the numeric that follows the level given
    given = cols[:, lt.dim_to_column]
    mapped, feats = gan.to_model(x, given, features=True)
    cond = gan.generator_condition(cols, given, x, feats)
    assert (cond[:, -4:].argmax(1).numpy() == level[:300]).mean() > 0.8
    g = DenseGenerator(4, LAYOUT.width, cond_dim=gan.cond_dim, width=16, depth=1,
                       skip_outputs=gan.feature_dims)
    torch.testing.assert_close(g.out.weight[:, -4:], torch.eye(LAYOUT.width)[:, 5:])
    with pytest.raises(ValueError, match="skip outputs"):
        DenseGenerator(4, 3, cond_dim=1, skip_outputs=[0, 1])
