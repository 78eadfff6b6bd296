"""Oracles that answer from tables: published results (`lookup`), a model trained on a whole table
(`emulator`), measured formulations (`formulation_lookup`), and evaluations done elsewhere and exchanged
as files (`queue`)."""
