"""Reference policies that never learn: ``zero_action`` and ``random_action``."""
