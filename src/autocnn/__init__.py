"""autocnn: configure a convolutional network (architecture + training) automatically with BOHB.

The package is a pipeline; imports flow one way::

    data -> space -> model -> train -> optimize -> transfer -> report
"""

__version__ = "0.1.0"
