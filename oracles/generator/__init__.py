"""Glass structures generated, not melted: a DM²-style denoising generator (Yang & Schwalbe-Koda 2025).

`training_set` melt-quenches the training glasses with the LAMMPS oracle's potential and protocol;
`spec` is the YAML of a generator (its glasses, network, training) and the MD oracle's `structure`
settings; `denoiser` is the equivariant network (PaiNN) that returns the noise on each atom; `training`
trains it, resumably; `generator` makes glasses from random positions by repeated denoising, and saves,
loads, installs and finds generators by name. The structure metrics that judge generated and
melt-quenched glasses alike are `amala.oracles.md.glass_metrics`."""
