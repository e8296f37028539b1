"""Source quality figures and gates (pure functions; see issue 4)."""
