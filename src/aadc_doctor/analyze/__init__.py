"""`analyze`: one report from everything a server left behind (a `collect` zip, its folder, or a plain copy of the
drive). ``inputs.py`` finds each kind of input; ``run.py`` runs every offline analyser and merges the findings."""
