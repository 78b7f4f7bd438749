"""Training: the loop, distributed helpers, optimiser and schedule, checkpoints and logs."""
