"""The digital health atlas: a registry of software products and of their projects/deployments in countries."""
