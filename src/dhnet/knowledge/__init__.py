"""The knowledge repository of the network of networks: items, documents, sections, chunks and their search."""
