"""The molecular-dynamics engine of glass evaluations: one melt-quench-diffuse protocol (`protocol`),
run in LAMMPS with the Pedone potential (`lammps_glass`, `lammps_engine`, `pedone`) or with any ASE
calculator (`ase_engine`), from starting cells (`cells`) to structures (`structure`; `glass_metrics`
measures and compares them) and transport numbers (`analysis`), resumable (`checkpoint`). `oracle` is the
MD oracle of oxide glasses; its `structure` settings may start it from a generated glass
(`amala.oracles.generator`) instead of a melt-quench."""
