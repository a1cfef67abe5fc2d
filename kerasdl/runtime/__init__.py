"""Where and how training runs: devices and strategies, Keras patches for
multi-worker training, optimizers, and run folders on disk."""
