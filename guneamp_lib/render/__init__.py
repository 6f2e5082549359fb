"""Running a trained model over audio (notebook 07).

``inference`` holds the fast whole-signal path (``process``, ``predict``) and the design's
own overlap-add loops, kept for teaching; ``offline`` renders files; ``streaming`` runs a
model block by block as a plugin does, with its compiled inner loops in ``kernels`` (the
cabinet's, with its FFT, in ``fft_kernels``); ``live`` plays it on a JACK server (``guneamp
play``: the callback in ``live_chain``, its compiled steps in ``live_kernels``, the keys in
``live_keys``, the recorder in ``live_record``, a dummy server and test clients in
``live_clients``).
"""
