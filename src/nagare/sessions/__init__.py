"""Session managers: where the states of the component trees live between requests."""
