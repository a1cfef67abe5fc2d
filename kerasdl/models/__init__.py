"""Keras classes that saved models name (registered as ``kerasdl>Class``):
the GAN and its adversarial training step, the application preprocessing
layer, learning-rate schedules, test-time flips, label-smoothed losses; and Word2Vec's sparse skip-gram step.

They live below the builders and the artifacts, so that loading a
``.keras`` file never needs the code that built it.
"""
