"""Demo workspace content for the embedded backend (generated media and annotations)."""
