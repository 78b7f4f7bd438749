"""Networks: the HSG model (``model.py``), the dilated ResNet backbone, the embedding head, position and
query tables, the clustering transformer, and the converter between the original checkpoint names and ours."""
