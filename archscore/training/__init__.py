"""Training and evaluation: the metrics every reported number comes from (``metrics``)."""
