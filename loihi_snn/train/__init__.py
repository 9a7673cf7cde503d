"""Training side of loihi_snn: data sets and spike encoders (time-last tensors for lava-dl SLAYER)."""
