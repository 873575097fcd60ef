"""Tests of dhnet.knowledge.parsing: every format, its malformed inputs, the seeds, chunking properties."""
