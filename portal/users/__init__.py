"""People who use the portal: their account, independent of the identity provider they use."""
