"""autocnn: configure a convolutional network (architecture + training) automatically with BOHB.

The package is a pipeline; imports flow one way (``tests/test_layering.py`` checks it)::

    data -> space -> model -> train -> optimize -> final -> transfer -> report -> study, fit

The public face is :mod:`autocnn.api` (one function per CLI command) plus the settings and
result types it takes and returns.
"""

__version__ = "0.1.0"
