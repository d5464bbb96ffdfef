"""Text-classifier toolchain: DistilBERT teacher -> distilled INT8 student -> microcontroller C."""

__version__ = "0.2.0"
