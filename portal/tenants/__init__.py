"""Ministries as tenants: their policy and the identity providers their agents sign in with."""
