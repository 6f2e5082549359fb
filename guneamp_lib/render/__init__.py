"""Running a trained model over audio (notebook 07).

``inference`` holds the fast whole-signal path (``process``, ``predict``) and the design's
own overlap-add loops, kept for teaching; ``offline`` renders files; ``streaming`` runs a
model block by block as a plugin does, with its compiled inner loops in ``kernels``.
"""
