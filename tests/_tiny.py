"""Shared tiny-training parameters (sklearn's INIT_PARAMS idea): tests run in seconds."""

TINY = dict(max_steps=5, batch_size=16, width=8, depth=1, n_timesteps=8, sampling_steps=2, verbose=False)
