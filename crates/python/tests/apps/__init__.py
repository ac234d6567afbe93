"""Applications the command-line tests serve."""
