"""The end-to-end demo on a generated dataset (``pyenv/demo.py``)."""
