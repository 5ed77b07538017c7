"""Prediction: backends that turn prompt ids into answers (``hf``), and the record-by-record run (``run``)."""
