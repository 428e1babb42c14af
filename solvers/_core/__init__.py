"""The solvers' shared kernel (private): results, iteration, adjoints, validation, checkpoints."""
