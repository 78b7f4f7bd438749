"""hsg: unsupervised hierarchical semantic segmentation (a reimplementation of HSG, CVPR 2022)."""

__version__ = "0.1.0"
