"""From a checkpoint to outputs: dense embeddings, the labelled memory and kNN read-out, hierarchy maps,
baselines, and the loops of the entry scripts."""
