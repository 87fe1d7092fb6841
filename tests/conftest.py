"""Test-suite settings."""

import torch

# The suite trains tiny networks: one thread avoids OpenMP spin-waits that make
# small ops 10x slower on a busy 2-core machine.
torch.set_num_threads(1)
