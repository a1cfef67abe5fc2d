"""What a run leaves for use: SavedModel exports (classifier or forecaster,
GAN generator, word vectors), and finding a trained model on disk."""
