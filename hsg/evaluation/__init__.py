"""Scoring predictions: the confusion matrix and mIoU, pairing prediction and ground-truth files, reports,
the label-free (Hungarian) protocol, the optional dense CRF, and the BSDS500 benchmark of over-segmentations."""
