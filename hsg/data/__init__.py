"""Data side of HSG: the dataset catalogue, list files, image and label reading, the two-view training set,
the evaluation set and the loaders. See ``docs/data.md`` for layouts, the list format and the deviations
from the original."""
