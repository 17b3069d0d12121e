"""Pure-Python model runtime for the GPU worker: no Django imports here."""
