"""Teaching a model the amp (notebooks 03, 05, 06).

``windows`` is the design's 256-sample windows (and why we train on segments instead),
``losses`` the designed loss, ``data`` turns a recording pair into training and
validation material, ``train`` runs the optimisation and writes checkpoints.
"""
