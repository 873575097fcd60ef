"""Stakeholders and communities of the network of networks: organisations and their contacts, networks and
communities of practice (nested), memberships and join requests, events such as roundtables (see
docs/knowledge-design.md)."""
