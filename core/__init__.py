"""The domain kernel: what every layer above shares and none of them owns.

The plug-in contract (`plugins`: settings models and the registry that maps a config's `kind` to a class),
candidates and evaluations, the canonical spellings of the three representations (`composition`,
`polymer`, `formulation`, named in `representations`), seeding, redaction, settings, atomic files and
the published datasets. It imports no other amala package: agents, models, oracles, loop and flows sit
on top of it.
"""
