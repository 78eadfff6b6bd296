"""The campaign report a person reads in the morning: plain data read from the store (`data`), its
figures (`figures`, `md_figures`, `potential_figures`, `potential_growth`), its formatting (`format`) and
the HTML page (`html`)."""
