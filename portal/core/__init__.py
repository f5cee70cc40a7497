"""What every page shares: security headers, error pages, safe redirects, service clients."""
