"""The machine-learned-potential engine: teachers label frames (`teachers`, one registered class per kind),
students learn them (`student` is the interface, the registry of kinds and the trained ensemble;
`nequip_student` the NequIP kind), a committee says where they disagree (`committee`: the disagreement,
its trust levels and the committee calculator), on-the-fly learning asks the teacher only there
(`on_the_fly`, `labelled_frames`), one potential grows over a campaign (`growing_potential`), and
`oracle` is the MLIP oracle. Amorphous-amorphous interfaces (`interfaces`, `interface_simulation`) and
crystalline references (`crystal_references`) are evaluations built on the same potentials."""
