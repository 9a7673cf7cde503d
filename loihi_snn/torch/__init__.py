"""Layer 3 (beside ``sim``): SLAYER-compatible torch neurons, blocks, BPTT kernels,
surrogate gradients and the ternary-amplitude folding done at export."""
