"""The solvers' shared kernel (private): one result type and status codes, one iteration loop, the
adjoints, pivoting, complementarity functions, validation, batching and checkpoints."""
