"""Signal basics every later stage builds on (notebooks 01, 02, 05, 08).

``audio`` reads and writes files and normalizes levels, ``oversampling`` changes the rate
by band-limited sinc filters, ``cabinet`` convolves with an impulse response,
``activations`` holds a faster CPU ``tanh``, ``error`` measures how far one signal is
from another (ESR, pre-emphasis). Nothing here knows about networks.
"""
