"""Engines: exact 1-D Lloyd-Max, k-means, the point-density exponent estimator, the torch quantizer
library (``engines.quantizers``, imported on use) and the codebook training loop of the atomic
setting (``engines.training``)."""
