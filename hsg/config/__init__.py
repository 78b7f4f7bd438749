"""Configuration: documented defaults, YAML files and dotted command-line overrides."""

from hsg.config.config import Config, describe_keys, get_default_config, load_config

__all__ = ["Config", "describe_keys", "get_default_config", "load_config"]
