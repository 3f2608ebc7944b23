"""Side-by-side timing scripts against the field's libraries; they print ratios, never pass/fail."""
