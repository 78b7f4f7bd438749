"""Configuration: documented defaults with their rules, YAML files and dotted command-line overrides."""
