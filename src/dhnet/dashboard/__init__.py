"""What people see: the surveillance dashboard (map, epidemic curves, signals, completeness) and the bulletin."""
