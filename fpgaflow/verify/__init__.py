"""What every backend's verification shares: the reference inferences of each front end
(references), the == comparison (compare) and the triage of a C-sim mismatch (triage)."""
