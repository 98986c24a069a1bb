"""The workspace and its content: YAML, models, translations, styles, fonts, templates."""
