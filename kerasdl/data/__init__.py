"""Data: the dataset types, their loaders (one module per kind of source),
file readers, tf.data pipelines and the Word2Vec skip-gram batcher.

``catalogue.load`` finds a loader by the name a recipe's ``data.dataset``
gives; importing ``catalogue`` registers every loader.
"""
