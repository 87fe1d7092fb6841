"""One optimisation step of a conditional tabular GAN: ``n_critic`` critic updates, then one generator update."""

from __future__ import annotations

import contextlib

import torch

from ..conditioning import random_given_columns
from ..distributed import allreduce_gradients
from ..privacy.dp_sgd import poisson_sample, private_backward
from .losses import critic_loss, energy_score, generator_loss, gradient_penalty

__all__ = ["GANStep"]


class GANStep:
    """Callable ``step(index) -> {"critic": tensor, "generator": tensor}`` for :func:`synthaug.training.train`.

    A batch is the rows ``index`` (uniform over the table), a share
    ``p_conditional_rows`` of them replaced by training-by-sampling rows
    (:class:`~synthaug.gan.conditional_rows.ConditionalRowSampler`) whose
    sampled column is given. The other rows get random conditioning masks as
    in the diffusion model (``p_unconditional`` of them with nothing given).
    Fake row *i* is generated under real row *i*'s mask and given cells, so
    both sides of the critic see the same conditions. The batch is cut to a
    multiple of the critic's ``pac``. The ``n_critic`` critic updates of a
    step meet the same real rows with fresh generated ones (a step reads one
    batch of the table, as the epochs behind ``max_steps="auto"`` count it).
    The generator runs once per step: its rows of the last critic update
    (detached there) are scored again by the updated critic for its own loss.
    The critic compares rows in the space the generator makes them
    (:meth:`~synthaug.gan.TabularGAN.to_model`: free scores as residuals when
    the GAN has a Gaussian residual, solved once per step, which also gives
    the generator's level features); the level predictor learns from the
    rows as they are. With ``energy_weight`` the
    generator also makes a second row under each condition, in the same
    pass, and adds that weight times the energy score of the two against
    the real row (:func:`~synthaug.gan.energy_score`) to its loss.
    With a level predictor (``consistency``), the rows ``held_out`` (N,)
    are kept out of its loss, and every ``validate_every`` steps it is
    scored on them (:meth:`~synthaug.gan.LevelConsistency.validate`);
    ``steps_done`` counts the steps of the fit (a resumed fit sets it to
    the checkpoint's), so the schedule does not move when a fit resumes.
    """

    def __init__(self, gan, generator_net, critic, opt_g, opt_c, ema, data, layout_tensors, *, loss, n_critic=1,
                 gp_weight=10.0, noise_dim=64, row_sampler=None, p_conditional_rows=0.5, p_unconditional=0.5,
                 always_column=None, generator, autocast=False, sample_rate=None, fake_batch=None, consistency=None,
                 energy_weight=0.0, held_out=None, validate_every=10):
        self.gan, self.g_net, self.critic = gan, generator_net, critic
        self.opt_g, self.opt_c, self.ema = opt_g, opt_c, ema
        self.continuous, self.discrete = data
        self.lt = layout_tensors
        self.loss, self.n_critic, self.gp_weight, self.noise_dim = loss, n_critic, gp_weight, noise_dim
        self.row_sampler = row_sampler
        self.p_conditional_rows = p_conditional_rows if row_sampler is not None else 0.0
        self.p_unconditional = p_unconditional
        self.always_column = always_column
        self.generator = generator
        self.autocast = autocast
        self.consistency = consistency   # a LevelConsistency, or None
        self.energy_weight = energy_weight
        # rows (N,) bool kept out of the level predictor's loss, to choose when it stops (consistency.validate)
        self.held_out, self.validate_every, self.steps_done = held_out, validate_every, 0
        self._disc_to_column = torch.as_tensor(layout_tensors.layout.disc_to_column(), device=self.continuous.device)
        # DP-SGD (critic wrapped by Opacus): Poisson-sampled real rows, a fixed number of fake rows
        self.sample_rate, self.fake_batch = sample_rate, fake_batch
        self.pac = 1 if sample_rate is not None else critic.pac

    def _batch(self, index):
        g, device = self.generator, self.continuous.device
        pac = self.pac
        b = max(pac * -(-2 // pac), index.shape[0] // pac * pac)   # ≥ 2 rows: the generator batch-normalises
        index = index[:b] if index.shape[0] >= b else index.repeat(b // index.shape[0] + 1)[:b]
        n_columns = self.lt.layout.n_columns
        cols = random_given_columns(b, n_columns, generator=g, device=device, p_unconditional=self.p_unconditional,
                                    always=self.always_column)
        n_cond = int(round(self.p_conditional_rows * b))
        if n_cond:
            rows, blocks = self.row_sampler.sample(n_cond, generator=g)
            index = torch.cat([rows, index[n_cond:]])
            one = torch.nn.functional.one_hot(self._disc_to_column[blocks], n_columns).bool()
            cols = torch.cat([one, cols[n_cond:]])
        x = self.lt.gather(self.continuous, self.discrete, index)
        return x, cols, cols.index_select(1, self.lt.dim_to_column), index

    def _fake(self, x, cols, given, features=None, return_logits=False):
        noise = torch.randn((x.shape[0], self.noise_dim), generator=self.generator, device=x.device)
        return self.gan.relaxed(self.g_net, noise, cols, given=given, x_given=x, features=features,
                                generator=self.generator, return_logits=return_logits)

    def _generator_rows(self, x, cols, given, features=None):
        """``(fake, other, logits)`` of the generator step: its rows under the batch's conditions with gradients, a
        second row per condition for the energy score (None without it) and the first rows' raw outputs.

        Both draws come from one pass over twice the batch (one set of
        batch-norm statistics for the two; fewer, larger products).
        """
        if not self.energy_weight:
            fake, logits = self._fake(x, cols, given, features, return_logits=True)
            return fake, None, logits
        b = x.shape[0]
        both, logits = self._fake(x.repeat(2, 1), cols.repeat(2, 1), given.repeat(2, 1),
                                  None if features is None else features.repeat(2, 1), return_logits=True)
        return both[:b], both[b:], logits[:b]

    def _context(self, device):
        return torch.autocast(device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()

    def _private_fake(self):
        """``fake_batch`` generated rows whose given cells come from the generator itself, not the data.

        Under DP the generator may see the data only through the private
        critic, so its conditions are drawn from the EMA generator's own
        unconditional samples (detached): the game still matches (row, mask)
        pairs, and the fixed count keeps each real row's influence to its
        own clipped gradient.
        """
        g, device, b = self.generator, self.continuous.device, self.fake_batch
        cols = random_given_columns(b, self.lt.layout.n_columns, generator=g, device=device,
                                    p_unconditional=self.p_unconditional, always=self.always_column)
        source, _ = self.gan.sample(self.ema.model, torch.randn((b, self.noise_dim), generator=g, device=device),
                                    generator=g)
        given = cols.index_select(1, self.lt.dim_to_column)
        return self._fake(source.clone(), cols, given), cols   # clone: out of inference mode

    def _private_step(self, index):
        """One DP step: ``n_critic`` private critic updates on Poisson batches, then the generator."""
        device = self.continuous.device
        for k in range(self.n_critic):
            if k:
                index = poisson_sample(self.continuous.shape[0], self.sample_rate, self.generator, device)
            x = self.lt.gather(self.continuous, self.discrete, index)
            cols = random_given_columns(x.shape[0], self.lt.layout.n_columns, generator=self.generator,
                                        device=device, p_unconditional=self.p_unconditional,
                                        always=self.always_column)
            fake, fake_cols = self._private_fake()
            scores = self.critic(torch.cat([self.gan.critic_input(x, cols),
                                            self.gan.critic_input(fake.detach(), fake_cols)]))
            per_row = critic_loss(self.loss, scores[: x.shape[0]], scores[x.shape[0]:], reduction="none")
            self.opt_c.zero_grad(set_to_none=True)
            private_backward(self.critic, self.opt_c, per_row)
            self.opt_c.step()
        self.critic.requires_grad_(False)
        self.critic.disable_hooks()   # no per-sample gradients of the frozen critic in the generator step
        loss_g = generator_loss(self.loss, self.critic(self.gan.critic_input(fake, fake_cols)))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        allreduce_gradients(self.g_net)
        self.opt_g.step()
        self.critic.enable_hooks()
        self.critic.requires_grad_(True)
        self.ema.update(self.g_net)
        return {"critic": per_row.detach().mean(), "generator": loss_g.detach()}

    def __call__(self, index):
        self.steps_done += 1
        if self.sample_rate is not None:
            return self._private_step(index)
        device = self.continuous.device
        # one batch of real rows and masks per step, met by fresh generated rows at every critic update;
        # mapped once to the space the generator makes rows in (one solve of each row's Gaussian conditional)
        x_real, cols, given, index = self._batch(index)
        x, features = self.gan.to_model(x_real, given, features=True)
        for k in range(self.n_critic):
            with self._context(device):
                # the last critic step's fake rows also serve the generator step (one generator pass per step)
                if k == self.n_critic - 1:
                    fake, other, logits = self._generator_rows(x, cols, given, features)
                    fake_c = fake.detach()
                else:
                    with torch.no_grad():
                        fake_c = self._fake(x, cols, given, features)
                real_in, fake_in = self.gan.critic_input(x, cols), self.gan.critic_input(fake_c, cols)
                loss_c = critic_loss(self.loss, self.critic(real_in), self.critic(fake_in))
                if self.gp_weight:
                    loss_c = loss_c + self.gp_weight * gradient_penalty(
                        self.critic, real_in, fake_in, generator=self.generator, pac=self.pac)
            self.opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            allreduce_gradients(self.critic)   # a no-op in one process
            self.opt_c.step()
        self.critic.requires_grad_(False)   # the generator step needs no critic gradients
        losses = {}
        if self.consistency is not None:
            weight = None if self.held_out is None else (~self.held_out.index_select(0, index)).float()
            with self._context(device):
                losses["predictor"] = self.consistency.update(x_real, cols, weight)
            if self.steps_done % self.validate_every == 0:
                self.consistency.validate()
        with self._context(device):
            loss_g = generator_loss(self.loss, self.critic(self.gan.critic_input(fake, cols)))
            if self.consistency is not None and self.consistency.weight:
                term = self.consistency.generator_term(self.gan.from_model(fake, given, x), logits, cols)
                losses["consistency"] = term.detach()
                loss_g = loss_g + term
            if self.energy_weight:
                # a second row under each condition of the batch, scored with the first against the real one
                # on the dims the generator made (see GANSampler's energy)
                term = energy_score(fake, other, x, ~given)
                losses["energy"] = term.detach()
                loss_g = loss_g + self.energy_weight * term
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        allreduce_gradients(self.g_net)
        self.opt_g.step()
        self.critic.requires_grad_(True)
        self.ema.update(self.g_net)
        return {"critic": loss_c.detach(), "generator": loss_g.detach(), **losses}
