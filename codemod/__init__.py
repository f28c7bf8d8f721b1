"""allocfix: add allocation-failure handling to QEMU-style C code."""

__version__ = "0.1.0"
