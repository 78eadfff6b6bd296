"""The machine-learned-potential engine: teachers label frames (`teachers`), students learn them
(`student` is the interface, `nequip_student` the NequIP implementation), a committee says where they
disagree (`committee`, `committee_calculator`), on-the-fly learning asks the teacher only there
(`on_the_fly`, `labelled_frames`), one potential grows over a campaign (`growing_potential`), and
`oracle` is the MLIP oracle. Amorphous-amorphous interfaces (`interfaces`, `interface_simulation`) and
crystalline references (`crystal_references`) are evaluations built on the same potentials."""
