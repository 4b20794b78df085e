"""Training: data sets built from real photographs and HDR images, degradation synthesis,
shared training helpers, metrics, baselines and one training script per model.

Everything here runs at training time only; ``lhe`` itself never downloads anything.
"""
