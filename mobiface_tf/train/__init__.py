"""Training: margin losses, presets, the trainer with resume and tf.distribute, the flip stage."""
