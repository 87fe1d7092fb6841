"""Level consistency: the predictor of a hidden discrete column and the generator's KL term."""

import pytest
import torch

from synthaug.encoding import Layout
from synthaug.gan import LevelConsistency
from synthaug.gan.consistency import (constrained_log_mass, fit_level_offsets, hide_cells, hide_one_column,
                                      resample_levels)
from synthaug.nn import ResidualMLP

# a plain numeric (score 0), a categorical A (block 0, 3 levels), a categorical B (block 1, 2 levels)
LAYOUT = Layout(1, (3, 2), ((0, None), (None, 0), (None, 1)))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _term(weight=1.0, seed=0):
    torch.manual_seed(seed)   # (the predictor's initial weights)
    lt = LAYOUT.tensors("cpu")
    net = ResidualMLP(LAYOUT.width, LAYOUT.width, cond_dim=LAYOUT.n_columns, width=32, depth=1, time_dim=0)
    return LevelConsistency(net, torch.optim.Adam(net.parameters(), lr=1e-2), lt, weight=weight,
                            generator=_gen(seed)), lt


def _rows(n, seed=0):
    """B is level 1 exactly when A is level 0; the score is noise."""
    g = _gen(seed)
    a = torch.randint(3, (n,), generator=g)
    codes = torch.stack([a, (a == 0).long()], 1)
    return LAYOUT.tensors("cpu").to_model(torch.randn(n, 1, generator=g), codes)


def test_hidden_column_is_a_candidate_that_was_not_given():
    candidates = torch.tensor([False, True, True, True])
    given = torch.zeros(4000, 4, dtype=torch.bool)
    given[:2000, 1] = True
    given[-1] = True                                              # nothing left to hide in the last row
    hidden, valid = hide_one_column(candidates, given, generator=_gen())
    assert not (hidden & given).any() and not hidden[:, 0].any()
    assert (hidden.sum(1) == valid.long()).all() and not valid[-1] and valid[:-1].all()
    share = hidden[2000:-1].float().mean(0)[1:]                   # uniform among the three candidates
    assert (share - 1 / 3).abs().max() < 0.04
    assert not hidden[:2000, 1].any() and (hidden[:2000, 2:].float().mean(0) - 0.5).abs().max() < 0.05


def test_predictor_learns_a_column_from_the_rest_of_the_row():
    term, lt = _term()
    x = _rows(512)
    given = torch.zeros(512, 3, dtype=torch.bool)
    losses = [float(term.update(x, given)) for _ in range(150)]
    # the least possible loss: B from A is certain; A from B=0 is one of two levels, so (2/3)·ln 2 for A, halved
    assert losses[0] > 0.6 and losses[-1] < 0.3
    hidden = torch.zeros(512, 3, dtype=torch.bool)
    hidden[:, 2] = True                                           # B hidden: it is read from A
    p_b1 = torch.softmax(lt.block_logits(term._predict(x, hidden))[0][:, :2, 1], 1)[:, 1]
    a_is_0 = x[:, 1] > 0
    assert (p_b1[a_is_0] > 0.8).all() and (p_b1[~a_is_0] < 0.2).all()


def test_generator_term_pulls_the_level_probabilities_to_the_predictor_and_only_them():
    term, lt = _term(weight=2.0)
    x = _rows(256)
    given = torch.zeros(256, 3, dtype=torch.bool)
    for _ in range(150):
        term.update(x, given)
    fake = x.clone().requires_grad_(True)
    logits = torch.zeros(256, LAYOUT.width, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    first = None
    for _ in range(200):
        loss = term.generator_term(fake, logits, given)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fake.grad is None                                      # the generated row is only read
    assert float(term.generator_term(fake, logits, given).detach()) < 0.1 * first
    p_b1 = torch.softmax(logits[:, -2:], 1)[:, 1].detach()        # B's logits now follow A, as the predictor does
    a_is_0 = x[:, 1] > 0
    assert p_b1[a_is_0].mean() > 0.85 and p_b1[~a_is_0].mean() < 0.15


def test_given_columns_are_never_the_target_and_weight_scales():
    term, _ = _term(weight=1.0)
    x = _rows(64)
    logits = torch.randn(64, LAYOUT.width, generator=_gen(5))
    everything = torch.ones(64, 3, dtype=torch.bool)
    assert float(term.generator_term(x, logits, everything)) == 0.0   # nothing to hide: no term
    given = torch.zeros(64, 3, dtype=torch.bool)
    one = float(_term(weight=1.0)[0].generator_term(x, logits, given))
    three = float(_term(weight=3.0)[0].generator_term(x, logits, given))
    assert one > 0 and three == pytest.approx(3 * one, rel=1e-5)


def _trained(seed=0):
    term, lt = _term(seed=seed)
    x = _rows(512)
    for _ in range(150):
        term.update(x, torch.zeros(512, 3, dtype=torch.bool))
    return term.predictor.eval(), lt


def _sweeping(folded):
    """``(the network the sweep runs — folded or not —, the trained predictor, layout tensors)``."""
    predictor, lt = _trained()
    return (predictor.folded() if folded else predictor), predictor, lt


def _random_rows(lt, n, *, seed):
    """``(x, codes)``: ``n`` rows of LAYOUT with independent random levels and scores."""
    g = _gen(seed)
    codes = torch.stack([torch.randint(3, (n,), generator=g), torch.randint(2, (n,), generator=g)], 1)
    return lt.to_model(torch.randn(n, 1, generator=g), codes), codes


@pytest.mark.parametrize("folded", [False, True])
def test_resample_levels_redraws_a_column_from_the_rest_of_the_row(folded):
    predictor, lt = _trained()
    predictor = predictor.folded() if folded else predictor
    g = _gen(3)
    n = 2000
    a = torch.randint(3, (n,), generator=g)
    codes = torch.stack([a, torch.randint(2, (n,), generator=g)], 1)   # B independent of A: to be repaired
    x = lt.to_model(torch.randn(n, 1, generator=g), codes)
    frozen = torch.zeros(n, 3, dtype=torch.bool)
    frozen[:100, 2] = True                                        # these rows keep their B
    x0, codes0 = x.clone(), codes.clone()
    new_x, new_codes, probs = resample_levels(predictor, lt, x, codes, [1], frozen, generator=_gen(4))
    assert torch.equal(x, x0) and torch.equal(codes, codes0) and probs is None   # inputs untouched
    assert torch.equal(new_codes[:100], codes[:100]) and torch.equal(new_codes[:, 0], codes[:, 0])
    torch.testing.assert_close(new_x, lt.to_model(x[:, :1], new_codes))   # the row matches its codes
    b, a = new_codes[100:, 1], new_codes[100:, 0]
    assert ((b == 1) == (a == 0)).float().mean() > 0.97


@pytest.mark.parametrize("folded", [False, True])
def test_resample_levels_draws_by_the_inverse_cdf_of_the_predictor(folded):
    """Each redrawn level is the first whose cumulative probability reaches the row's uniform (same stream)."""
    net, predictor, lt = _sweeping(folded)
    n = 400
    x, codes = _random_rows(lt, n, seed=7)
    _, new_codes, probs = resample_levels(net, lt, x, codes, [0], torch.zeros(n, 3, dtype=torch.bool),
                                          generator=_gen(8), probs=torch.zeros(n, LAYOUT.width - 1))
    hidden = torch.zeros(n, 3, dtype=torch.bool)
    hidden[:, 1] = True
    with torch.no_grad():
        p = torch.softmax(predictor(hide_cells(x, hidden, lt.dim_to_column), None, hidden.float())[:, 1:4], 1)
    u = torch.rand((n, 1), generator=_gen(8))
    expected = (p.cumsum(1) < u).sum(1).clamp(max=2)
    torch.testing.assert_close(probs[:, :3], p, atol=1e-5, rtol=1e-4)
    near = ((p.cumsum(1) - u).abs() < 1e-5).any(1)                 # a uniform on a boundary may go either way
    assert torch.equal(new_codes[~near, 0], expected[~near]) and torch.equal(new_codes[:, 1], codes[:, 1])


def test_resample_levels_offsets_shift_the_logits_folded_or_not():
    """Fixed offsets (added to the folded predictor's output bias once per sweep) give the same probabilities as
    added to each block's logits; rows given a column keep it, the others are all redrawn."""
    predictor, lt = _trained()
    n = 300
    x, codes = _random_rows(lt, n, seed=11)
    offsets = torch.zeros(LAYOUT.width)
    offsets[1:4] = torch.tensor([0.7, -0.4, 0.1])
    offsets[4:6] = torch.tensor([-1.0, 0.5])
    for frozen_rows in (0, 50):
        frozen = torch.zeros(n, 3, dtype=torch.bool)
        frozen[:frozen_rows, 1:] = True
        out = [resample_levels(net, lt, x, codes, [0, 1], frozen, generator=_gen(12), offsets=offsets,
                               probs=torch.full((n, LAYOUT.width - 1), -1.0))
               for net in (predictor, predictor.folded())]
        torch.testing.assert_close(out[0][2], out[1][2], atol=1e-5, rtol=1e-4)
        assert torch.equal(out[1][1][:frozen_rows], codes[:frozen_rows])
        assert (out[1][2][:frozen_rows] == -1).all() and (out[1][2][frozen_rows:] >= 0).all()


@pytest.mark.parametrize("folded", [False, True])
def test_resample_levels_sweeps_are_successive_sweeps(folded):
    """``sweeps=2`` gives what two calls give from the same stream; the inputs stay as they were."""
    net, predictor, lt = _sweeping(folded)
    n = 200
    x, codes = _random_rows(lt, n, seed=13)
    frozen = torch.zeros(n, 3, dtype=torch.bool)
    x0, codes0 = x.clone(), codes.clone()
    both = resample_levels(net, lt, x, codes, [0, 1], frozen, generator=_gen(14), sweeps=2,
                           probs=torch.zeros(n, LAYOUT.width - 1))
    assert torch.equal(x, x0) and torch.equal(codes, codes0)
    stream = _gen(14)
    once = resample_levels(net, lt, x, codes, [0, 1], frozen, generator=stream, probs=torch.zeros(n, LAYOUT.width - 1))
    twice = resample_levels(net, lt, *once[:2], [0, 1], frozen, generator=stream, probs=once[2])
    for a, b in zip(both, twice):
        assert torch.equal(a, b)


def test_resample_levels_keeps_constraints_and_reports_its_probabilities():
    from synthaug.encoding.layout import Constraints

    predictor, lt = _trained()
    n = 500
    codes = torch.zeros(n, 2, dtype=torch.long)                   # A = 0, so B = 1 is predicted
    x = lt.to_model(torch.zeros(n, 1), codes)
    allowed = torch.ones(LAYOUT.width, dtype=torch.bool)
    allowed[LAYOUT.offsets[1] + 1] = False                        # B = 1 forbidden
    probs = torch.full((n, LAYOUT.width - 1), 0.5)
    _, out, p = resample_levels(predictor, lt, x, codes, [1], torch.zeros(n, 3, dtype=torch.bool),
                                generator=_gen(), constraints=Constraints(allowed=allowed), probs=probs)
    assert (out[:, 1] == 0).all()
    torch.testing.assert_close(p[:, 3:], torch.tensor([1.0, 0.0]).expand(n, 2))
    assert (p[:, :3] == 0.5).all()                                 # other blocks' probabilities as given


@pytest.mark.parametrize("folded", [False, True])
def test_constrained_log_mass_is_the_predicted_probability_of_the_allowed_levels(folded):
    """For each row, log P(B allowed | rest) from the predictor; a frozen B, or no constraint on it, counts 0."""
    from synthaug.encoding.layout import Constraints

    predictor, lt = _trained()
    n = 300
    g = _gen(5)
    codes = torch.stack([torch.randint(3, (n,), generator=g), torch.randint(2, (n,), generator=g)], 1)
    x = lt.to_model(torch.randn(n, 1, generator=g), codes)
    frozen = torch.zeros(n, 3, dtype=torch.bool)
    frozen[:50, 2] = True
    allowed = torch.ones(LAYOUT.width, dtype=torch.bool)
    allowed[LAYOUT.offsets[1] + 1] = False                        # B = 1 forbidden
    net = predictor.folded() if folded else predictor
    mass = constrained_log_mass(net, lt, x, codes, [0, 1], frozen, constraints=Constraints(allowed=allowed))
    hidden = torch.zeros(n, 3, dtype=torch.bool)
    hidden[:, 2] = True
    with torch.no_grad():
        logits = predictor(hide_cells(x, hidden, lt.dim_to_column), None, hidden.float())[:, 4:6]
    expected = torch.log_softmax(logits, 1)[:, 0]
    assert mass.shape == (n, 2) and (mass[:, 0] == 0).all()             # A is not constrained
    torch.testing.assert_close(mass[50:, 1], expected[50:], atol=1e-5, rtol=1e-4)
    assert (mass[:50] == 0).all() and (mass <= 0).all()
    free = Constraints(allowed=torch.ones(LAYOUT.width, dtype=torch.bool))
    assert (constrained_log_mass(net, lt, x, codes, [0, 1], frozen, constraints=free) == 0).all()


def test_fitted_offsets_give_the_sweep_its_target_frequencies():
    """B = 1 for 80 % of rows with A = 0, 20 % of the others (40 % in all); offsets fitted for 50 / 50 reach it."""
    term, lt = _term()
    g = _gen(6)
    n = 3000
    a = torch.randint(3, (n,), generator=g)
    b = (torch.rand(n, generator=g) < torch.where(a == 0, 0.8, 0.2)).long()
    x = lt.to_model(torch.randn(n, 1, generator=g), torch.stack([a, b], 1))
    for _ in range(300):
        term.update(x, torch.zeros(n, 3, dtype=torch.bool))
    predictor = term.predictor.eval()
    free = torch.zeros(n, 3, dtype=torch.bool)
    _, before, _ = resample_levels(predictor, lt, x, torch.stack([a, b], 1), [1], free,
                                   generator=_gen(7))
    assert abs(float(before[:, 1].float().mean()) - 0.4) < 0.04
    offsets = fit_level_offsets(predictor, lt, x, torch.stack([a, b], 1), [1], {1: [0.5, 0.5]}, generator=_gen(8))
    assert offsets.shape == (LAYOUT.width,) and (offsets[: LAYOUT.offsets[1]] == 0).all()
    _, after, _ = resample_levels(predictor, lt, x, torch.stack([a, b], 1), [1], free, generator=_gen(7),
                                  offsets=offsets)
    assert abs(float(after[:, 1].float().mean()) - 0.5) < 0.03


def test_prior_shift_stops_once_converged_where_the_full_run_ends():
    """The early stop returns offsets within the tolerance's reach of 100 full updates, matching the target."""
    from synthaug.gan.consistency import _prior_shift

    g = _gen(9)
    logits = torch.randn(500, 4, generator=g) * 2
    target = torch.tensor([0.1, 0.2, 0.3, 0.4])
    start = torch.zeros(4)
    early = _prior_shift(logits, target, start, max_offset=5.0)
    full = _prior_shift(logits, target, start, max_offset=5.0, tol=-1.0)   # never stops early
    assert torch.allclose(early, full, atol=1e-3)
    assert torch.allclose(torch.softmax(logits + early, 1).mean(0), target, atol=1e-3)
    # a level with no mass left stops at the bound, and the others still reach their targets
    capped = _prior_shift(logits, torch.tensor([0.0, 0.2, 0.4, 0.4]), start, max_offset=3.0)
    assert float(capped[0]) == -3.0


def test_the_predictor_kept_is_the_one_best_on_the_held_out_rows():
    """Rows of noise labels learnt by heart: the held-out loss rises again, and the copy kept is the earlier best."""
    torch.manual_seed(0)
    lt = LAYOUT.tensors("cpu")
    net = ResidualMLP(LAYOUT.width, LAYOUT.width, cond_dim=LAYOUT.n_columns, width=256, depth=2, time_dim=0)
    g = _gen(3)
    n = 60
    codes = torch.stack([torch.randint(3, (n,), generator=g), torch.randint(2, (n,), generator=g)], 1)
    x = lt.to_model(torch.randn(n, 1, generator=g), codes)         # levels independent of everything: noise
    held = _rows(40, seed=4)                                     # scored on A, then on B
    hidden = torch.nn.functional.one_hot(torch.tensor([1, 2]).repeat_interleave(40), 3).bool()
    term = LevelConsistency(net, torch.optim.Adam(net.parameters(), lr=1e-2), lt, weight=0.0, generator=g,
                            validation=(held.repeat(2, 1), hidden, None))
    weight = torch.ones(n)
    weight[:10] = 0.0                                            # held-out rows leave no trace in the loss
    nothing = torch.zeros(n, 3, dtype=torch.bool)
    scores = []
    for step in range(300):
        train_loss = term.update(x, nothing, weight)
        if step % 10 == 9:
            scores.append(float(term.validate()))
    assert float(train_loss) < 0.6 and scores[-1] > min(scores) + 0.1  # learnt by heart; worse on unseen rows
    assert float(term.best.loss) == pytest.approx(min(scores))
    kept = term.fitted_predictor()
    assert kept is term.best.model and kept is not term.predictor
    kept.eval(), term.predictor.eval()
    with torch.no_grad():
        assert float(term._loss(term._val_x, term._val_hidden, term._val_hidden.any(1))) == pytest.approx(scores[-1])
        term.predictor, real = kept, term.predictor
        assert float(term._loss(term._val_x, term._val_hidden, term._val_hidden.any(1))) == pytest.approx(min(scores))
        term.predictor = real
        # zero-weight rows: the loss is the mean over the others
        hidden = torch.nn.functional.one_hot(torch.full((n,), 1), 3).bool()
        full = term._loss(x[10:], hidden[10:], hidden[10:].any(1))
        assert float(term._loss(x, hidden, hidden.any(1), weight)) == pytest.approx(float(full), rel=1e-5)


def test_without_validation_the_last_predictor_is_kept():
    term, _ = _term()
    assert term.validate() is None and term.fitted_predictor() is term.predictor


def test_the_predictor_learns_only_the_columns_it_is_given():
    """``columns``: every update hides one of them (here only B), never another column."""
    torch.manual_seed(0)
    lt = LAYOUT.tensors("cpu")
    net = ResidualMLP(LAYOUT.width, LAYOUT.width, cond_dim=LAYOUT.n_columns, width=8, depth=1, time_dim=0)
    term = LevelConsistency(net, torch.optim.Adam(net.parameters()), lt, weight=0.0, generator=_gen(), columns=[2])
    seen = []
    real = term._loss
    term._loss = lambda x, hidden, valid, weight=None: (seen.append(hidden.clone()), real(x, hidden, valid, weight))[1]
    given = torch.zeros(64, 3, dtype=torch.bool)
    given[:8, 2] = True                                           # B given: nothing to hide in those rows
    term.update(_rows(64), given)
    hidden = seen[0]
    assert hidden[8:, 2].all() and not hidden[:, :2].any() and not hidden[:8].any()


def test_validation_scores_the_present_levels_conditional():
    """Excluded levels leave the held-out score: it is the cross-entropy under the other levels' softmax."""
    term, lt = _term()
    x = _rows(30, seed=5)
    hidden = torch.nn.functional.one_hot(torch.full((30,), 1), 3).bool()       # A scored
    excluded = torch.zeros(LAYOUT.width, dtype=torch.bool)
    excluded[1 + 2] = True                                                    # A's third level left out
    keep = x[:, 3] < 0                                                        # rows whose A is not that level
    scored = LevelConsistency(term.predictor, term.optimizer, lt, weight=0.0, generator=_gen(),
                              validation=(x[keep], hidden[keep], excluded))
    loss = float(scored.validate())
    with torch.no_grad():
        logits = scored._predict(x[keep], hidden[keep])[:, 1:3]               # A's first two levels only
        expected = torch.nn.functional.cross_entropy(logits, x[keep][:, 1:3].argmax(1))
    assert loss == pytest.approx(float(expected), rel=1e-5)
