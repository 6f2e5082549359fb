"""The notebook course around the library (all notebooks).

``runner`` runs the numbered notebooks headlessly, ``plotting`` draws the nine graphs,
``players`` shows short audio players, ``widgets`` and ``playground`` the sliders.
"""
