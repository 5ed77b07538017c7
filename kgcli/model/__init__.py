"""The model wing: presets and their checks, templates, loading and building models, adapters, LoRA
merging, and the launch settings of the heavy commands."""
