"""Police work on camera incidents: the queue of decisions, plate watchlists, Frigate media."""
