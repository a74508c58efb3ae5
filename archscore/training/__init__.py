"""Training and evaluation: the metrics every reported number comes from (``metrics``) and the
protocols that produce them (``protocols``)."""
