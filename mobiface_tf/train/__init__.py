"""Training: run configurations, margin losses, the data and protocol, the shared run loop, and the stages
(main training with distillation, the flip stage) that run in it."""
