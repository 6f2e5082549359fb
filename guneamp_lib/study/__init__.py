"""Measuring what a model learned (notebooks 09 and 11).

``metrics`` scores a prediction, ``evaluate`` trains and tests models on datasets,
``aliasing`` measures the energy folded back by nonlinearities, ``transfer`` draws a
model's input-output curve.
"""
