"""Design-space exploration (`fpgaflow sweep`): many points of a design's spec (bits, pruning,
folding targets, backends), each trained, built, estimated and verified bit for bit, run on Ray;
the trade-offs as Pareto fronts and one page. Nothing under designs/ changes until `--best`."""
