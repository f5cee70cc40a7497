"""Sign-in with OpenID Connect providers, sign-out, and the identities users sign in with."""
