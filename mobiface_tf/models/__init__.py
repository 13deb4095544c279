"""Face embedding networks: MobiFace, Flipped-MobiFace and the paper's baselines (Keras 3)."""
