"""What personal data the platform keeps, why and for how long: one definition (`records.py`)
read by the retention purge and by the public page /confidentialite."""
