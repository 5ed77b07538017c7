"""Fine-tuning: data encoding (``data``), the run configuration (``config``), the training loop (``run``)."""
