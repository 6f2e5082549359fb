"""Getting a recording pair a model can learn from (notebooks 00, 01, 12).

``synth`` builds the default data (a synthetic guitar DI, a reference amp and cabinet);
``checks`` finds the latency between DI and amp recording, aligns them and says whether
the pair is usable. Everything here works on plain arrays at the file rate.
"""
