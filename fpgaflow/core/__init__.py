"""What every stage shares: the design spec and its resolved layers, data, parts, atomic
writes, the one error type. Nothing here imports a framework or a backend."""
