"""Scores beyond Keras's metrics: test-split scores, baselines, and the
GAN judge."""
