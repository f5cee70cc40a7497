"""Quality under load (issue 6): which video a congested room gives up, and who is speaking."""
