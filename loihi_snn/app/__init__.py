"""Top layer: the ``loihi-snn`` command line, ``loihi-snn eval`` and the demo."""
