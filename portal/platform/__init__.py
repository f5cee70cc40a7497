"""Administration of the platform: ministries (tenants), identity providers, federation rules."""
